#!/usr/bin/env bash
# Screenshots of the demo page and the playground for the README, in light
# and dark mode and at phone width, from a server that is already running:
#   scripts/screenshots.sh [BASE_URL]      (default http://127.0.0.1:8080)
# Writes docs/img/demo-{light,dark,phone}.png and playground-{light,dark}.png.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${1:-http://127.0.0.1:8080}
base=${base%/}
out=docs/img
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

curl -fsS -o /dev/null "$base/demo" || {
  echo "$base does not answer: start the server first (make run)" >&2
  exit 1
}

# The widget mounts after the page has loaded (it fetches its wasm): the
# virtual time budget lets it finish before the picture is taken.
shot() {
  local file=$1 size=$2 url=$base$3
  shift 3
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --disable-background-networking --disable-component-update \
    --user-data-dir="$profile" \
    --virtual-time-budget=5000 --window-size="$size" \
    --screenshot="$out/$file" "$@" "$url" 2>/dev/null
  echo "$out/$file"
}

shot demo-light.png 1200,1600 /demo --blink-settings=preferredColorScheme=1
shot demo-dark.png 1200,1600 /demo --blink-settings=preferredColorScheme=0
shot demo-phone.png 430,2300 /demo --blink-settings=preferredColorScheme=1
shot playground-light.png 1200,700 / --blink-settings=preferredColorScheme=1
shot playground-dark.png 1200,700 / --blink-settings=preferredColorScheme=0
