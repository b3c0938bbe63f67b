#!/usr/bin/env bash
# Builds the widget into OUT (default static/widget): the wasm (size
# profile), its JS glue (wasm-bindgen --target web), the loader and the CSS.
# Used by `make widget` and by the server's Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-static/widget}
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --quiet --locked -p snipbox-widget --target wasm32-unknown-unknown --profile widget
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$out" --out-name snipbox_widget \
  "$target_dir/wasm32-unknown-unknown/widget/snipbox_widget.wasm"
cp widget/snipbox.js widget/snipbox.css "$out/"
