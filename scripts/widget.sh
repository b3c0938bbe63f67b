#!/usr/bin/env bash
# Builds the widget and the playground page into OUT (default
# static/widget): each wasm (size profile) with its JS glue (wasm-bindgen
# --target web), the widget's loader and CSS. Each wasm is then shrunk with
# binaryen's wasm-opt, the pinned one that `scripts/prereqs.sh --widget`
# installs under target/tools/ (WASM_OPT overrides the path); where it is
# missing the wasm is left as rustc made it.
# Used by `make widget` and by the server's Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-static/widget}
target_dir=${CARGO_TARGET_DIR:-target}
wasm_opt=${WASM_OPT:-$target_dir/tools/binaryen/node_modules/.bin/wasm-opt}
[ -x "$wasm_opt" ] || echo "wasm-opt is missing at $wasm_opt (scripts/prereqs.sh --widget installs it): the wasm is not optimized" >&2
for name in widget playground; do
  cargo build --quiet --locked -p "snipbox-$name" --target wasm32-unknown-unknown --profile widget
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$out" --out-name "snipbox_$name" \
    "$target_dir/wasm32-unknown-unknown/widget/snipbox_$name.wasm"
  if [ -x "$wasm_opt" ]; then
    # The features rustc enables by default for wasm32-unknown-unknown. Sizes
    # are judged after brotli: there -Os beats -Oz, and inlining costs more
    # than it saves (copies of a body compress worse than calls to it).
    "$wasm_opt" -Os --skip-pass=inlining-optimizing \
      --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --strip-debug --strip-producers --strip-target-features \
      "$out/snipbox_${name}_bg.wasm" -o "$out/snipbox_${name}_bg.opt.wasm"
    mv "$out/snipbox_${name}_bg.opt.wasm" "$out/snipbox_${name}_bg.wasm"
  fi
done
cp widget/snipbox.js widget/snipbox.css "$out/"
