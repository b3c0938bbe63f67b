#!/usr/bin/env bash
# Installs gVisor's runsc and registers it with the Docker engine as the
# runtime "runsc", so that sandboxes can run under a second kernel boundary
# (`runtime = "runsc"` in a sandbox's [limits], or SNIPBOX_RUNTIME=runsc).
# Safe to run again: it skips what is there.
#
# runsc comes from Debian 13 (trixie), whatever this Debian's release: its
# package holds one static binary, and Debian 12's runsc (20221219) ends a
# sandbox when a pipeline's reader exits early (`dmesg | head -3`). It is
# registered with `--network=none`: sandboxes have no network anyway, and
# without it every start fails here ("cannot run with network enabled in
# root network namespace"); and with `--oci-seccomp`, so that snipbox's
# seccomp profile filters the program's calls inside gVisor's kernel too
# (runsc ignores a container's profile without it).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
bin=/usr/local/bin/runsc

if ! [ -x "$bin" ]; then
  command -v dpkg-deb >/dev/null 2>&1 || { echo "gVisor: not a Debian-like system; install runsc by hand (gvisor.dev)" >&2; exit 0; }
  echo "installing gVisor's runsc from Debian 13 into $bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debian13_deb runsc "$work/root"
  as_root install -m 0755 "$work/root/usr/bin/runsc" "$bin"
fi

registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep '"runsc"' | grep -q -- '--oci-seccomp'; }
if ! registered; then
  echo "registering runsc with the Docker engine (/etc/docker/daemon.json) and reloading it"
  as_root mkdir -p /etc/docker
  as_root python3 - "$bin" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=none", "--oci-seccomp"]}
json.dump(config, open(path, "w"), indent=2)
PY
  as_root pkill -HUP -x dockerd
  for _ in $(seq 1 20); do
    registered && break
    sleep 0.5
  done
  registered || { echo "the engine did not take the runsc runtime" >&2; exit 1; }
fi
