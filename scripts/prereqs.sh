#!/usr/bin/env bash
# Installs what snipbox needs and is missing, saying what it does first:
# a Docker engine (Debian's docker.io, started in the background when none
# answers) and the Rust targets. Safe to run again: it skips what is there.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install $*: this is not a Debian-like system; install it by hand" >&2
    exit 1
  fi
  echo "installing $* with apt-get"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    as_root apt-get update -qq
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

docker_answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

if ! docker_answers; then
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "no Docker engine answers and none is installed"
    apt_install docker.io
  fi
  if ! docker_answers; then
    echo "starting the Docker engine (dockerd) in the background; its log is /var/log/snipbox-dockerd.log"
    as_root sh -c 'nohup dockerd >/var/log/snipbox-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do
      docker_answers && break
      sleep 1
    done
    docker_answers || { echo "the Docker engine did not start; see /var/log/snipbox-dockerd.log" >&2; exit 1; }
  fi
fi

# Sandbox images are bootstrapped with debootstrap where no registry answers.
command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap

# gVisor (runsc), a second kernel boundary for sandboxes, registered with the
# engine (Debian only; elsewhere see gvisor.dev).
if command -v dpkg-deb >/dev/null 2>&1; then
  command -v xz >/dev/null 2>&1 || apt_install xz-utils
  command -v curl >/dev/null 2>&1 || apt_install curl
  "$(dirname "$0")/gvisor.sh"
fi

# The agent inside every sandbox is a static (musl) binary.
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || { echo "adding the Rust target $target"; rustup target add "$target"; }

# The tests also drive a socket proxy (haproxy), validate the compose files
# (docker-compose), give a Docker engine of their own a bridge (ip) and
# drive a headless browser (chromium, chromedriver).
if [ "${1:-}" = "--test" ]; then
  missing=()
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
fi

# The widget: the wasm target and the wasm-bindgen CLI of exactly the
# version the widget's wasm-bindgen crate has in Cargo.lock.
if [ "${1:-}" = "--widget" ] || [ "${1:-}" = "--test" ]; then
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    echo "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  }
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$(dirname "$0")/../Cargo.lock")
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    echo "installing wasm-bindgen-cli $want (the widget's wasm-bindgen version; found: ${have:-none})"
    cargo install --quiet wasm-bindgen-cli --version "$want"
  fi

  # shellcheck source=pins.sh
  source "$(dirname "$0")/pins.sh"
  # The nightly toolchain that builds the wasm for size, with the std
  # sources it rebuilds (about 20 s to download).
  if ! rustup run "$widget_nightly" rustc --version >/dev/null 2>&1 \
     || [ ! -d "$(rustup run "$widget_nightly" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "installing Rust $widget_nightly with rust-src and the wasm32 target (builds the widget's wasm for size)"
    rustup toolchain install "$widget_nightly" --profile minimal --component rust-src --target wasm32-unknown-unknown
  fi

  # brotli precompresses the widget's files at its best quality, which the
  # server then sends as they are (gzip does the same for gzip).
  command -v brotli >/dev/null 2>&1 || apt_install brotli

  # binaryen's wasm-opt, which shrinks the wasm, and esbuild, which minifies
  # the JS and CSS: the npm builds of pinned releases (prebuilt, installed
  # in seconds), into target/tools/ where scripts/widget.sh looks for them.
  # Never Debian's binaryen: its wasm-opt breaks the widget.
  tools=${CARGO_TARGET_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target}/tools
  for pkg in "binaryen@$binaryen" "esbuild@$esbuild"; do
    name=${pkg%@*} version=${pkg#*@}
    have=$(node -p "require('$tools/$name/node_modules/$name/package.json').version" 2>/dev/null || true)
    if [ "$have" != "$version" ]; then
      command -v npm >/dev/null 2>&1 || apt_install nodejs npm
      echo "installing $name $version from npm into $tools/$name (found: ${have:-none})"
      mkdir -p "$tools/$name"
      npm install --silent --prefix "$tools/$name" --no-save --no-package-lock --no-audit --no-fund "$pkg"
    fi
  done

  # CodeMirror, the playground's editor, bundled by esbuild: the pinned
  # packages into target/tools/codemirror (a stamp file lists them).
  # shellcheck disable=SC2154 # codemirror is set in pins.sh
  want=$(echo $codemirror)
  if [ "$(cat "$tools/codemirror/pins" 2>/dev/null)" != "$want" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    echo "installing CodeMirror from npm into $tools/codemirror: $want"
    mkdir -p "$tools/codemirror"
    # shellcheck disable=SC2086 # one word per package
    npm install --silent --prefix "$tools/codemirror" --no-save --no-package-lock --no-audit --no-fund $want
    echo "$want" >"$tools/codemirror/pins"
  fi
fi
