#!/usr/bin/env bash
# Builds the sandbox images: sandboxes/NAME/Dockerfile becomes
# snipbox/NAME:latest, with the agent (the container's main process) added
# on top, and prints each image's size and build time. Idempotent: Docker's
# build cache makes a second run quick.
#
#   scripts/images.sh                  every sandbox
#   SANDBOXES=go,rust scripts/images.sh  only these (also as arguments)
set -euo pipefail
cd "$(dirname "$0")/.."

export DOCKER_BUILDKIT=0 # the classic builder needs no plugin and no registry

selected=${*:-${SANDBOXES:-}}
selected=${selected//,/ }
if [ -n "$selected" ]; then
  dirs=()
  for name in $selected; do
    [ -f "sandboxes/$name/Dockerfile" ] || { echo "no sandbox named $name (sandboxes/$name/Dockerfile)" >&2; exit 1; }
    dirs+=("sandboxes/$name/")
  done
else
  dirs=(sandboxes/*/)
fi

# The base images the sandboxes start from, bootstrapped when they cannot be pulled.
for base in $(for d in "${dirs[@]}"; do [ -f "$d/Dockerfile" ] && sed -n 's/^FROM[[:space:]]\+\([^[:space:]]*\).*/\1/p' "$d/Dockerfile"; done | sort -u); do
  case "$base" in
    debian:*) scripts/base-image.sh "$base" ;;
  esac
done

target=x86_64-unknown-linux-musl
cargo build --quiet --release -p snipbox-agent --target "$target"

# docker build, quiet unless it fails.
build() {
  local log
  log=$(docker build "$@" 2>&1) || { printf '%s\n' "$log" >&2; return 1; }
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/agent"
cp "target/$target/release/snipbox-agent" "$tmp/agent/"

# A Dockerfile that downloads from a package registry over TLS may COPY
# host-ca.crt: the certificates this machine trusts, for networks that
# inspect TLS on the way out. Empty where the machine has no bundle.
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}

# Seconds since $1 (an $EPOCHREALTIME), to a tenth.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

all_start=$EPOCHREALTIME
printf '%-12s %9s %9s\n' sandbox "size MB" "build s"
for dir in "${dirs[@]}"; do
  name=$(basename "$dir")
  [ -f "$dir/Dockerfile" ] || continue
  start=$EPOCHREALTIME
  ctx="$dir"
  if grep -q 'host-ca\.crt' "$dir/Dockerfile"; then
    ctx="$tmp/$name"
    cp -R "$dir" "$ctx"
    if [ -r "$ca" ]; then cp "$ca" "$ctx/host-ca.crt"; else : > "$ctx/host-ca.crt"; fi
  fi
  build --tag "snipbox-src/$name" "$ctx"
  build --tag "snipbox/$name:latest" --file - "$tmp/agent" <<DOCKERFILE
FROM snipbox-src/$name
COPY snipbox-agent /usr/local/bin/snipbox-agent
LABEL snipbox.sandbox="$name"
ENTRYPOINT ["/usr/local/bin/snipbox-agent"]
CMD []
DOCKERFILE
  size=$(docker image inspect --format '{{.Size}}' "snipbox/$name:latest")
  printf '%-12s %9d %9s\n' "$name" $((size / 1000000)) "$(since "$start")"
done
printf '%-12s %9s %9s\n' total "" "$(since "$all_start")"
