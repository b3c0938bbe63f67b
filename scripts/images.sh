#!/usr/bin/env bash
# Builds every sandbox image: sandboxes/NAME/Dockerfile becomes
# snipbox/NAME:latest, with the agent (the container's main process) added
# on top. Idempotent: Docker's build cache makes a second run quick.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOCKER_BUILDKIT=0 # the classic builder needs no plugin and no registry

# The base images the sandboxes start from, bootstrapped when they cannot be pulled.
for base in $(sed -n 's/^FROM[[:space:]]\+\([^[:space:]]*\).*/\1/p' sandboxes/*/Dockerfile | sort -u); do
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

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "target/$target/release/snipbox-agent" "$ctx/"

for dir in sandboxes/*/; do
  name=$(basename "$dir")
  [ -f "$dir/Dockerfile" ] || continue
  echo "image snipbox/$name:latest"
  build --tag "snipbox-src/$name" "$dir"
  build --tag "snipbox/$name:latest" --file - "$ctx" <<DOCKERFILE
FROM snipbox-src/$name
COPY snipbox-agent /usr/local/bin/snipbox-agent
LABEL snipbox.sandbox="$name"
ENTRYPOINT ["/usr/local/bin/snipbox-agent"]
CMD []
DOCKERFILE
done
