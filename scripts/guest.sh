#!/usr/bin/env bash
# Makes the virtual machine of the cgroup v2 host test (tests/tests/cgroup2.rs):
# a Debian 13 guest (kernel 6.12, systemd, cgroup v2, docker.io 26 with
# docker-cli) bootstrapped with debootstrap, as a raw ext4 disk with its own
# kernel and initrd. At boot it mounts the host's share (9p, tag `host`) at
# /mnt/host and runs /mnt/host/guest.sh once Docker is up. Made once per
# machine: cached under the test cache, keyed by this script's text.
# Prints the folder that holds disk.img, vmlinuz and initrd.img.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${SNIPBOX_TEST_CACHE:-/var/cache/snipbox-tests}/guest
key=$(sha256sum scripts/guest.sh | cut -c1-16)
out=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi
for tool in debootstrap mkfs.ext4 qemu-system-x86_64 qemu-img; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: scripts/prereqs.sh --test installs it" >&2; exit 1; }
done
# Guests of older versions of this script.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
rm -rf "$out"
mkdir -p "$out"
root=$(mktemp -d "$cache/root.XXXXXX")
trap 'rm -rf "$root"' EXIT

started=$(date +%s)
debootstrap --variant=minbase \
  --include=linux-image-amd64,initramfs-tools,systemd-sysv,udev,kmod,dbus,iproute2,ca-certificates,docker.io,docker-cli \
  trixie "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2

echo snipbox-guest >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
# The host reaches the servers through QEMU's user network (DHCP).
cat >"$root/etc/systemd/network/10-guest.network" <<'EOF'
[Match]
Name=e*
[Network]
DHCP=yes
EOF
cat >"$root/etc/systemd/system/snipbox-guest.service" <<'EOF'
[Unit]
Description=the host's test in this guest (/mnt/host/guest.sh)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/bin/sh -c 'mkdir -p /mnt/host && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host && exec sh /mnt/host/guest.sh'
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
chroot "$root" systemctl enable systemd-networkd snipbox-guest >&2
# No login prompts, no timers: nothing but the test runs.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >&2 || true
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb
mkfs.ext4 -q -F -L guest -d "$root" "$out/disk.img" 6G
touch "$out/ready"
echo "guest made in $(($(date +%s) - started)) s" >&2
echo "$out"
