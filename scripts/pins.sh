# The pinned versions of the widget's build tools. Sourced by prereqs.sh
# (which installs them), widget.sh (which uses them) and the Dockerfile.

# The wasm-bindgen CLI must be the version of the widget's wasm-bindgen
# crate in Cargo.lock (the file given): that version.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$1"
}

# The nightly Rust that builds the widget's wasm with a std of its own,
# built for size (-Zbuild-std): panics abort at once, no panic messages,
# locations or Debug text, std's size-optimized code paths. About a quarter
# of the wasm after brotli (`make bench-widget` prints the sizes).
widget_nightly=nightly-2026-10-30
# binaryen's wasm-opt, from npm (Debian's binaryen breaks the widget).
binaryen=132.0.0
# esbuild minifies the JS glue, the loader and the CSS.
esbuild=0.28.2
# CodeMirror, the playground's editor (never loaded by the widget): the
# packages its bundle (playground/codemirror.js) imports, from npm.
codemirror="@codemirror/state@6.7.6 @codemirror/view@6.43.15 @codemirror/language@6.13.1 @codemirror/commands@6.11.1
  @lezer/highlight@1.2.5 @codemirror/legacy-modes@6.5.5 @codemirror/lang-python@6.2.1 @codemirror/lang-javascript@6.2.5
  @codemirror/lang-go@6.0.1 @codemirror/lang-rust@6.0.2 @codemirror/lang-cpp@6.0.3 @codemirror/lang-java@6.0.2
  @codemirror/lang-sql@6.10.0 @codemirror/lang-php@6.0.2"
# axe-core, the accessibility checker the browser tests run on every page
# the widget or the playground draws, from npm.
axe_core=4.14.1
