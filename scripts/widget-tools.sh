#!/usr/bin/env bash
# Installs the widget's pinned npm build tools (scripts/pins.sh) into TOOLS
# (default target/tools), where scripts/widget.sh looks for them:
# binaryen's wasm-opt, which shrinks the wasm, and esbuild, which minifies
# the JS and CSS (the npm builds of pinned releases, prebuilt, installed in
# seconds; never Debian's binaryen: its wasm-opt breaks the widget), and
# CodeMirror, the playground's editor, which esbuild bundles. Skips what is
# there at the pinned version. Needs node and npm.
#
#   scripts/widget-tools.sh [TOOLS]            install what is missing
#   scripts/widget-tools.sh --missing [TOOLS]  only list what is missing
#
# Used by scripts/prereqs.sh --widget and by the server's Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=pins.sh
source scripts/pins.sh

list_only=
if [ "${1:-}" = --missing ]; then list_only=1; shift; fi
tools=${1:-${CARGO_TARGET_DIR:-$PWD/target}/tools}

# One npm package per line (`name@version` and the folder it goes to),
# then CodeMirror's packages as one set, stamped with their pins.
missing=()
for pkg in "binaryen@$binaryen" "esbuild@$esbuild"; do
  name=${pkg%@*} version=${pkg#*@}
  have=$(node -p "require('$tools/$name/node_modules/$name/package.json').version" 2>/dev/null || true)
  [ "$have" = "$version" ] || missing+=("$name")
done
# shellcheck disable=SC2154 # codemirror is set in pins.sh
want=$(echo $codemirror)
[ "$(cat "$tools/codemirror/pins" 2>/dev/null)" = "$want" ] || missing+=(codemirror)

if [ -n "$list_only" ]; then
  [ ${#missing[@]} -eq 0 ] || echo "${missing[*]}"
  exit 0
fi

install() {
  local dir=$1; shift
  mkdir -p "$dir"
  npm install --silent --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "$@"
}
for name in "${missing[@]}"; do
  case $name in
    binaryen) echo "installing binaryen $binaryen from npm into $tools/binaryen"; install "$tools/binaryen" "binaryen@$binaryen" ;;
    esbuild) echo "installing esbuild $esbuild from npm into $tools/esbuild"; install "$tools/esbuild" "esbuild@$esbuild" ;;
    codemirror)
      echo "installing CodeMirror from npm into $tools/codemirror: $want"
      # shellcheck disable=SC2086 # one word per package
      install "$tools/codemirror" $want
      echo "$want" >"$tools/codemirror/pins"
      ;;
  esac
done
