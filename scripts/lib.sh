# Shared by the image and set-up scripts; source it.

# Succeeds when IMAGE exists locally or can be pulled; says what it tries.
image_present_or_pulled() {
  local image=$1 what=$2
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  echo "$what $image is missing: trying to pull it"
  docker pull "$image" >/dev/null 2>&1
}

# Unpacks Debian 13 (trixie)'s package PACKAGE (amd64) into DIR, whatever
# this Debian's release: its index from the mirror, the .deb checked
# against the index's SHA256. For packages that hold one static or
# libc-only binary (runsc, the compose plugin).
debian13_deb() {
  local package=$1 dir=$2 mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  local work entry file sum
  work=$(mktemp -d)
  curl -fsS "$mirror/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc > "$work/Packages"
  entry=$(awk -v p="Package: $package" '$0 == p {f = 1} f && /^$/ {exit} f' "$work/Packages")
  file=$(awk '/^Filename:/ {print $2}' <<<"$entry")
  sum=$(awk '/^SHA256:/ {print $2}' <<<"$entry")
  if [ -z "$file" ]; then
    rm -rf "$work"
    echo "$package is not in Debian 13's index" >&2
    return 1
  fi
  curl -fsS -o "$work/package.deb" "$mirror/$file"
  echo "$sum  $work/package.deb" | sha256sum --check --quiet
  dpkg-deb -x "$work/package.deb" "$dir"
  rm -rf "$work"
}
