#!/usr/bin/env bash
# Installs the documentation generators the browser tests build sites with
# (tests/sites/), pinned, each from its own registry, into target/tools/ as
# the widget's tools are (Hugo and Jekyll system-wide, from Debian):
#   scripts/generators.sh [NAME...]   (default: all of them)
# NAME is one of mkdocs, sphinx, mdbook, hugo, jekyll, docusaurus, starlight.
# Safe to run again: a generator whose pinned version is there is skipped.
# One that cannot be installed is named with the error, and the others go
# on; the script then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."

# The pins: PyPI, crates.io, Debian (the release this machine runs), npm.
mkdocs_material=9.8.1
sphinx=9.0.4
furo=2025.12.19
mdbook=0.5.4
docusaurus=3.10.2
react=19.2.0
starlight=0.37.7
astro=5.18.2

tools=${CARGO_TARGET_DIR:-$PWD/target}/tools
failed=()
say() { echo "generators: $*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# A Python virtual environment of its own per generator, with the pinned
# packages; a stamp file holds the pins it was made with.
pip_site() {
  local name=$1 dir=$tools/$1 want=$2
  [ "$(cat "$dir/pins" 2>/dev/null)" = "$want" ] && return 0
  say "installing $want from PyPI into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir" && "$dir/bin/pip" install --quiet --disable-pip-version-check $want \
    && echo "$want" >"$dir/pins"
}

# npm packages into target/tools/NAME/node_modules (the sites are built
# against them through a symlink, never a node_modules of their own).
npm_site() {
  local name=$1 dir=$tools/$1 want=$2
  [ "$(cat "$dir/pins" 2>/dev/null)" = "$want" ] && return 0
  say "installing $want from npm into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  # shellcheck disable=SC2086 # one word per package
  npm install --silent --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund $want \
    && echo "$want" >"$dir/pins"
}

apt_tool() {
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  # The tests install generators side by side: one apt at a time.
  mkdir -p "$tools"
  exec 9>"$tools/.apt-lock"
  flock 9
  command -v "$cmd" >/dev/null 2>&1 && return 0
  say "installing $* from Debian"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    as_root apt-get update -qq
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install() {
  case $1 in
    mkdocs) pip_site mkdocs "mkdocs-material==$mkdocs_material" ;;
    sphinx) pip_site sphinx "sphinx==$sphinx furo==$furo" ;;
    mdbook)
      [ "$("$tools/mdbook/bin/mdbook" --version 2>/dev/null)" = "mdbook v$mdbook" ] && return 0
      say "building mdbook $mdbook from crates.io into $tools/mdbook (a few minutes)"
      cargo install --quiet mdbook --version "$mdbook" --root "$tools/mdbook" --target-dir "$tools/mdbook/build" \
        && rm -rf "$tools/mdbook/build"
      ;;
    hugo) apt_tool hugo hugo ;;
    jekyll) apt_tool jekyll jekyll jekyll-theme-minima ruby-jekyll-feed ruby-jekyll-seo-tag ;;
    docusaurus)
      npm_site docusaurus "@docusaurus/core@$docusaurus @docusaurus/preset-classic@$docusaurus react@$react react-dom@$react"
      ;;
    starlight) npm_site starlight "@astrojs/starlight@$starlight astro@$astro" ;;
    *)
      echo "unknown generator $1" >&2
      return 1
      ;;
  esac
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mkdocs sphinx mdbook hugo jekyll docusaurus starlight)
mkdir -p "$tools"
for name in "${names[@]}"; do
  log=$(mktemp)
  # One install of a generator at a time: tests that need it start together.
  if ! (flock 8 && install "$name") 8>"$tools/.$name.lock" >"$log" 2>&1; then
    failed+=("$name")
    say "$name could not be installed:"
    tail -n 20 "$log" >&2
  else
    cat "$log"
  fi
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  say "not installed: ${failed[*]}"
  exit 1
fi
