#!/usr/bin/env bash
# Makes sure the base image the sandbox Dockerfiles start from exists locally.
# Tries the registry first; where there is none, bootstraps the same Debian
# release with debootstrap and imports it under the same name.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

image=${1:-debian:trixie-slim}
suite=${image#debian:}
suite=${suite%-slim}

image_present_or_pulled "$image" "base image" && exit 0
echo "cannot pull $image: bootstrapping Debian $suite with debootstrap and importing it as $image"
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debootstrap is not installed: installing it with apt-get"
  apt-get install -y -qq debootstrap >/dev/null
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$suite" "$root" >/dev/null
# Match the slim image: no apt lists or docs that only cost space.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | docker import - "$image" >/dev/null
echo "imported $image"
