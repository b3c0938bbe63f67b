# Shared by the image scripts; source it.

# Succeeds when IMAGE exists locally or can be pulled; says what it tries.
image_present_or_pulled() {
  local image=$1 what=$2
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  echo "$what $image is missing: trying to pull it"
  docker pull "$image" >/dev/null 2>&1
}
