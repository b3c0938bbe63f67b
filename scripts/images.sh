#!/usr/bin/env bash
# Builds the sandbox images that are missing or out of date with
# `snipbox images` (through the Engine API; see docs/sandboxes.md, "Sandbox
# images"), after making sure their base images exist: where a base
# cannot be pulled, scripts/base-image.sh bootstraps it with debootstrap.
# Prints a line per build step, then each image's size and build time.
#
#   scripts/images.sh                    every sandbox (or SNIPBOX_SANDBOXES_ONLY's)
#   SANDBOXES=go,rust scripts/images.sh  only these (also as arguments)
set -euo pipefail
cd "$(dirname "$0")/.."

selected=${*:-${SANDBOXES:-}}
selected=${selected//,/ }
target_dir=${CARGO_TARGET_DIR:-target}

# The agent every image gets (static, musl), and the builder.
agent_target=$(uname -m)-unknown-linux-musl
cargo build --quiet --release -p snipbox-agent --target "$agent_target"
cargo build --quiet -p snipbox
only=${selected// /,}

# The base images the selected sandboxes start from, as the builder reads
# their Dockerfiles: a Debian one that cannot be pulled is bootstrapped.
for base in $("$target_dir/debug/snipbox" images ${only:+--only "$only"} --bases); do
  case "$base" in
    debian:*) scripts/base-image.sh "$base" ;;
  esac
done

exec "$target_dir/debug/snipbox" images ${only:+--only "$only"} \
  --agent "$target_dir/$agent_target/release/snipbox-agent"
