#!/usr/bin/env bash
# Makes sure the Rust build image the server's Dockerfile starts from exists.
# Tries the registry first; where there is none, makes an image of the same
# name from the Debian base and this machine's own Rust toolchain.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

image=${1:-rust:1-bookworm}
image_present_or_pulled "$image" "build image" && exit 0
echo "cannot pull $image: making it from debian:bookworm-slim and the local toolchain ($(rustc --version))"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
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
# Only what builds for this host and the widget (wasm32): no docs, no
# sources, no other targets.
excludes=(--exclude=./share --exclude=./lib/rustlib/src)
for t in "$sysroot"/lib/rustlib/*/; do
  t=$(basename "$t")
  [ -d "$sysroot/lib/rustlib/$t/lib" ] && [ "$t" != "$host" ] && [ "$t" != wasm32-unknown-unknown ] && excludes+=("--exclude=./lib/rustlib/$t")
done
cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$dir/ca-certificates.crt"
tar -C "$dir" -c -f "$dir/context.tar" Dockerfile ca-certificates.crt
tar -C "$sysroot" -r -f "$dir/context.tar" "${excludes[@]}" --transform 's,^\.,toolchain,' .
DOCKER_BUILDKIT=0 docker build --quiet --tag "$image" - < "$dir/context.tar" >/dev/null
echo "made $image"
