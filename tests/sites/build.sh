#!/usr/bin/env bash
# Builds the test site of one generator (tests/sites/NAME: a page of code
# blocks, with snipbox added as docs/integrations.md says) into
# target/sites/NAME, installing the generator first (scripts/generators.sh),
# and prints that folder. A build of the same sources by the same
# generators is kept and reused (a stamp holds the hash of the sources and
# the generators' pins).
#   tests/sites/build.sh NAME
# The sites load the widget from https://HOST, which the tests replace with
# their server's address in a copy.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
target=${CARGO_TARGET_DIR:-$PWD/target}
tools=$target/tools
out=$target/sites/$name
# One build of a site at a time: tests that need the same site build it
# together on a fresh clone.
mkdir -p "$target/sites"
exec 9>"$out.lock"
flock 9
scripts/generators.sh "$name" >&2
stamp=$( (cd tests/sites && find "$name" -type f -print0 | sort -z | xargs -0 sha256sum; cat "$tools/$name/pins" 2>/dev/null;
  grep -E '^[a-z_]+=[0-9]' ../../scripts/generators.sh) | sha256sum | cut -c1-16)
if [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$out" ]; then
  echo "$out"
  exit 0
fi
# The npm generators build beside the packages scripts/generators.sh
# installed (node finds them by walking up; a symlinked node_modules
# confuses Astro's paths), the others in a temporary folder.
case $name in
  docusaurus | starlight) work=$tools/$name/site ;;
  *) work=$(mktemp -d) ;;
esac
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cp -r "tests/sites/$name/." "$work/"
rm -rf "$out" "$out.stamp"
mkdir -p "$(dirname "$out")"
case $name in
  mkdocs) NO_MKDOCS_2_WARNING=1 "$tools/mkdocs/bin/mkdocs" build --quiet --config-file "$work/mkdocs.yml" --site-dir "$out" ;;
  sphinx) "$tools/sphinx/bin/sphinx-build" --quiet --builder html "$work" "$out" ;;
  mdbook) "$tools/mdbook/bin/mdbook" build --dest-dir "$out" "$work" 2>&1 | grep -v INFO >&2 || true ;;
  hugo) hugo --quiet --source "$work" --destination "$out" ;;
  jekyll) jekyll build --quiet --source "$work" --destination "$out" ;;
  docusaurus | starlight)
    # No update checks, no telemetry.
    export NO_UPDATE_NOTIFIER=1 NO_MKDOCS_2_WARNING=1 ASTRO_TELEMETRY_DISABLED=1 DOCUSAURUS_NO_TELEMETRY=1
    if [ "$name" = docusaurus ]; then
      (cd "$work" && ../node_modules/.bin/docusaurus build --out-dir "$out" >&2)
    else
      (cd "$work" && ../node_modules/.bin/astro build --silent >&2 && mv dist "$out")
    fi
    ;;
  *)
    echo "no site for $name" >&2
    exit 1
    ;;
esac
[ -f "$out/index.html" ] || { echo "$name built no $out/index.html" >&2; exit 1; }
echo "$stamp" >"$out.stamp"
echo "$out"
