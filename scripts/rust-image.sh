#!/usr/bin/env bash
# Makes sure the Rust build image the server's Dockerfile starts from exists.
# Tries the registry first; where there is none, makes an image of the same
# name from the Debian base and this machine's own Rust toolchain.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

image=${1:-rust:1-bookworm}
# The targets the Dockerfile builds for besides the host: the widget's and
# the agent's (static, musl).
targets="wasm32-unknown-unknown $(uname -m)-unknown-linux-musl"
if image_present_or_pulled "$image" "build image"; then
  # A stand-in made here by an earlier version of this script may lack a
  # target: it is made again. (An image with rustup adds its own.)
  env=$(docker image inspect -f '{{join .Config.Env " "}}' "$image")
  have=$(docker image inspect -f '{{index .Config.Labels "snipbox.rust-targets"}}' "$image")
  case "$env" in *RUSTUP_HOME=*) exit 0 ;; esac
  [ "$have" != "$targets" ] || exit 0
  echo "$image is a stand-in without the targets $targets: making it again"
fi
echo "making $image from debian:bookworm-slim and the local toolchain ($(rustc --version))"
for t in $targets; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
scripts/base-image.sh debian:bookworm-slim
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust/
# The certificates this machine trusts: where TLS is inspected on the way
# out, cargo needs the inspecting CA to reach the crate registry.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/rust/bin:$PATH CARGO_HOME=/usr/local/cargo
DOCKERFILE
echo "LABEL snipbox.rust-targets=\"$targets\"" >> "$dir/Dockerfile"
# Only what builds for this host and the targets above: no docs, no
# sources, no other targets.
excludes=(--exclude=./share --exclude=./lib/rustlib/src)
for t in "$sysroot"/lib/rustlib/*/; do
  t=$(basename "$t")
  case " $host $targets " in *" $t "*) continue ;; esac
  [ -d "$sysroot/lib/rustlib/$t/lib" ] && excludes+=("--exclude=./lib/rustlib/$t")
done
cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$dir/ca-certificates.crt"
tar -C "$dir" -c -f "$dir/context.tar" Dockerfile ca-certificates.crt
tar -C "$sysroot" -r -f "$dir/context.tar" "${excludes[@]}" --transform 's,^\.,toolchain,' .
DOCKER_BUILDKIT=0 docker build --quiet --tag "$image" - < "$dir/context.tar" >/dev/null
echo "made $image"
