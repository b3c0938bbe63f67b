#!/usr/bin/env bash
# Installs what snipbox needs and is missing, saying what it does first:
# a Docker engine (Debian's docker.io, started in the background when none
# answers) and the Rust targets. Safe to run again: it skips what is there.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

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
target=$(uname -m)-unknown-linux-musl
rustup target list --installed | grep -qx "$target" || { echo "adding the Rust target $target"; rustup target add "$target"; }

# The tests also drive a socket proxy (haproxy), deploy the compose files
# (Compose v2, below), give a Docker engine of their own a bridge (ip),
# drive a headless browser (chromium, chromedriver), build for ARM64,
# running its agent under emulation (qemu-user, and the target below), and
# boot a cgroup v2 guest (qemu-system-x86, scripts/guest.sh).
if [ "${1:-}" = "--test" ]; then
  missing=()
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
  command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  arm=aarch64-unknown-linux-musl
  rustup target list --installed | grep -qx "$arm" || { echo "adding the Rust target $arm"; rustup target add "$arm"; }

  # Compose v2 (`docker compose`), as Coolify runs it: Debian 12's
  # docker-compose is 1.29, which mishandles
  # `condition: service_completed_successfully`. Debian 13's package holds
  # the v2 CLI plugin, which needs only libc: it runs on Debian 12 too.
  if ! docker compose version 2>/dev/null | grep -q 'version v\?2'; then
    command -v dpkg-deb >/dev/null 2>&1 || { echo "Compose v2 is missing: install the docker compose plugin by hand" >&2; exit 1; }
    command -v xz >/dev/null 2>&1 || apt_install xz-utils
    command -v curl >/dev/null 2>&1 || apt_install curl
    plugins=/usr/local/lib/docker/cli-plugins
    echo "installing Compose v2 (the docker compose plugin) from Debian 13 into $plugins"
    work=$(mktemp -d)
    debian13_deb docker-compose "$work/root"
    as_root install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugins/docker-compose"
    rm -rf "$work"
  fi

  # axe-core, the accessibility checker the browser tests run (pinned in
  # pins.sh), into target/tools/axe-core.
  # shellcheck source=pins.sh
  source "$(dirname "$0")/pins.sh"
  axe=${CARGO_TARGET_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target}/tools/axe-core
  # shellcheck disable=SC2154 # axe_core is set in pins.sh
  if [ "$(node -p "require('$axe/node_modules/axe-core/package.json').version" 2>/dev/null || true)" != "$axe_core" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    echo "installing axe-core $axe_core from npm into $axe"
    mkdir -p "$axe"
    npm install --silent --prefix "$axe" --no-save --no-package-lock --no-audit --no-fund "axe-core@$axe_core"
  fi
fi

# The widget: the wasm target and the wasm-bindgen CLI of exactly the
# version the widget's wasm-bindgen crate has in Cargo.lock.
if [ "${1:-}" = "--widget" ] || [ "${1:-}" = "--test" ]; then
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    echo "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  }
  # shellcheck source=pins.sh
  source "$(dirname "$0")/pins.sh"
  want=$(wasm_bindgen_version "$(dirname "$0")/../Cargo.lock")
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    echo "installing wasm-bindgen-cli $want (the widget's wasm-bindgen version; found: ${have:-none})"
    cargo install --quiet wasm-bindgen-cli --version "$want"
  fi

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

  # The pinned npm tools that shrink and minify the widget, and the
  # playground's editor (CodeMirror), into target/tools/.
  if [ -n "$("$(dirname "$0")/widget-tools.sh" --missing)" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    "$(dirname "$0")/widget-tools.sh"
  fi
fi
