#!/usr/bin/env bash
# Builds the widget and the playground page into OUT (default
# static/widget): each wasm (size profile) with its JS glue (wasm-bindgen
# --target web), the widget's loader and CSS, the playground's CSS and its
# editor (CodeMirror, bundled by esbuild into OUT/codemirror/: the bundle
# and a chunk per language mode, loaded on demand).
#
# Every reader of a docs page downloads the widget, so each step that makes
# it smaller is taken when its tool is there (`scripts/prereqs.sh --widget`
# installs them all, pinned in scripts/pins.sh), and skipped with a warning
# when it is not, so the build never fails for lack of one:
# - the wasm is built by the pinned nightly Rust with a std rebuilt for size
#   (-Zbuild-std, as the Leptos book advises); otherwise by stable Rust;
# - binaryen's wasm-opt shrinks it (WASM_OPT overrides the path), and
#   gives the widget's imports and exports short names;
# - esbuild minifies the JS glue, the loader and the CSS (ESBUILD likewise);
# - brotli (quality 11) and gzip (-9) precompress every file: the server
#   sends FILE.br or FILE.gz as it is to a browser that accepts it, and
#   compresses on the fly (less well) where there is none.
# Used by `make widget` and by the server's Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pins.sh
source scripts/pins.sh
out=${1:-static/widget}
target_dir=${CARGO_TARGET_DIR:-target}
wasm_opt=${WASM_OPT:-$target_dir/tools/binaryen/node_modules/.bin/wasm-opt}
esbuild=${ESBUILD:-$target_dir/tools/esbuild/node_modules/.bin/esbuild}
codemirror=$target_dir/tools/codemirror/node_modules
warn() { echo "warning: $*" >&2; }

# The size build needs the nightly toolchain and its std sources.
nightly=
if command -v rustup >/dev/null 2>&1 && sysroot=$(rustup run "$widget_nightly" rustc --print sysroot 2>/dev/null) \
   && [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
  nightly=$widget_nightly
else
  warn "Rust $widget_nightly with rust-src is missing (scripts/prereqs.sh --widget installs it): the wasm is built by stable Rust, with its larger std"
fi
[ -x "$wasm_opt" ] || warn "wasm-opt is missing at $wasm_opt (scripts/prereqs.sh --widget installs it): the wasm is not optimized"
command -v brotli >/dev/null 2>&1 || warn "brotli is missing (scripts/prereqs.sh --widget installs it): the files are not precompressed"
[ -x "$esbuild" ] || warn "esbuild is missing at $esbuild (scripts/prereqs.sh --widget installs it): the JS and CSS are not minified"
[ -x "$esbuild" ] && [ -d "$codemirror" ] || warn "esbuild or CodeMirror is missing (scripts/prereqs.sh --widget installs them): the playground's editor is a plain textarea"

mkdir -p "$out"
# Precompressed copies of an earlier build would not match this one, nor
# would an earlier editor bundle's chunks.
find "$out" \( -name '*.br' -o -name '*.gz' \) -delete
rm -rf "$out/codemirror"
for name in widget playground; do
  if [ -n "$nightly" ]; then
    # Its own target directory: these artifacts never mix with stable's.
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none" \
      cargo "+$nightly" build --quiet --locked -p "snipbox-$name" --target wasm32-unknown-unknown --profile widget \
      -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size --target-dir "$target_dir/size"
    wasm=$target_dir/size/wasm32-unknown-unknown/widget/snipbox_$name.wasm
  else
    cargo build --quiet --locked -p "snipbox-$name" --target wasm32-unknown-unknown --profile widget
    wasm=$target_dir/wasm32-unknown-unknown/widget/snipbox_$name.wasm
  fi
  # WIDGET_CARGO_ONLY=1: the cargo builds alone, e.g. of the crates'
  # dependencies (the server's Dockerfile builds them once, from stand-in
  # sources, so that a source change does not build them again).
  [ -z "${WIDGET_CARGO_ONLY:-}" ] || continue
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$out" --out-name "snipbox_$name" "$wasm"
  if [ -x "$wasm_opt" ]; then
    # The widget (every reader downloads it) also loses the exports nothing
    # calls (wasm-streams' classes, which Leptos's server functions bring
    # along; markers for tools), and its imports and exports get short
    # names: wasm-bindgen's carry a hash each, which does not compress.
    # scripts/wasm-names.mjs makes the glue match (node is there: wasm-opt
    # is its npm build).
    shrink=()
    if [ "$name" = widget ]; then
      shrink=(--remove-exports='*intounderlying*' --remove-exports='_WASM_SPLIT_MARKER_*'
        --remove-exports=__abort_handler --remove-exports=__instance_terminated)
    fi
    # The features rustc enables by default for wasm32-unknown-unknown. Sizes
    # are judged after brotli: there -Os beats -Oz, and inlining costs more
    # than it saves (copies of a body compress worse than calls to it).
    "$wasm_opt" "${shrink[@]}" -Os --skip-pass=inlining-optimizing \
      --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --strip-debug --strip-producers --strip-target-features \
      $([ "$name" = widget ] && echo --minify-imports-and-exports-and-modules) \
      "$out/snipbox_${name}_bg.wasm" -o "$out/snipbox_${name}_bg.opt.wasm" >"$out/names.json"
    if [ "$name" = widget ]; then
      node scripts/wasm-names.mjs "$out/snipbox_$name.js" "$out/names.json" "$out/snipbox_${name}_bg.opt.wasm"
    fi
    rm "$out/names.json"
    mv "$out/snipbox_${name}_bg.opt.wasm" "$out/snipbox_${name}_bg.wasm"
  fi
done

[ -z "${WIDGET_CARGO_ONLY:-}" ] || exit 0

# The glue wasm-bindgen just wrote, the loader and CSS from widget/, the
# playground's CSS.
for src in "$out/snipbox_widget.js" "$out/snipbox_playground.js" widget/snipbox.js widget/snipbox.css \
  playground/playground.css; do
  file=$(basename "$src")
  if [ -x "$esbuild" ]; then
    "$esbuild" "$src" --minify --log-level=warning --outfile="$out/$file.min" \
      $([ "${file##*.}" = js ] && echo --format=esm)
    mv "$out/$file.min" "$out/$file"
  elif [ "$src" != "$out/$file" ]; then
    cp "$src" "$out/$file"
  fi
done

# The widget's words in other languages than English (the loader fetches
# the page's).
rm -rf "$out/i18n" && mkdir -p "$out/i18n" && cp widget/i18n/*.json "$out/i18n/"

# The playground's editor: CodeMirror's packages (target/tools/codemirror,
# pinned in scripts/pins.sh) found through NODE_PATH.
if [ -x "$esbuild" ] && [ -d "$codemirror" ]; then
  NODE_PATH=$codemirror "$esbuild" playground/codemirror.js --bundle --minify --splitting --format=esm \
    --log-level=warning --outdir="$out/codemirror" --chunk-names='[name]-[hash]'
fi

if command -v brotli >/dev/null 2>&1; then
  for file in "$out"/*.js "$out"/*.wasm "$out"/*.css "$out"/codemirror/*.js "$out"/i18n/*.json; do
    [ -f "$file" ] || continue
    brotli --best --force --keep "$file"
    gzip -9 --force --keep "$file"
  done
fi
