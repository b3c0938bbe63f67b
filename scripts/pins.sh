# The pinned versions of the widget's build tools. Sourced by prereqs.sh
# (which installs them) and widget.sh (which uses them).

# The nightly Rust that builds the widget's wasm with a std of its own,
# built for size (-Zbuild-std): panics abort at once, no panic messages,
# locations or Debug text, std's size-optimized code paths. About a quarter
# of the wasm after brotli (`make bench-widget` prints the sizes).
widget_nightly=nightly-2026-10-30
# binaryen's wasm-opt, from npm (Debian's binaryen breaks the widget).
binaryen=132.0.0
# esbuild minifies the JS glue, the loader and the CSS.
esbuild=0.28.2
