#!/usr/bin/env bash
# Builds docs/ as a book (mdBook, pinned, installed by scripts/generators.sh)
# into static/docs, which the server serves at /docs/, and prints that
# folder. A build of the same docs by the same mdBook is kept and reused (a
# stamp holds the hash of docs/ and the pin).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$PWD/static/docs
scripts/generators.sh mdbook >&2
stamp=$( (find docs -type f -print0 | sort -z | xargs -0 sha256sum; grep -E '^mdbook=' scripts/generators.sh) | sha256sum | cut -c1-16)
if [ "$(cat "$target/book.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$out/index.html" ]; then
  echo "$out"
  exit 0
fi
rm -rf "$out" "$target/book.stamp"
"$target/tools/mdbook/bin/mdbook" build --dest-dir "$out" docs 2>&1 | { grep -v INFO || true; } >&2
rm -rf "$out/book.toml" "$out/theme"
[ -f "$out/index.html" ] || { echo "mdBook built no $out/index.html" >&2; exit 1; }
mkdir -p "$target"
echo "$stamp" >"$target/book.stamp"
echo "$out"
