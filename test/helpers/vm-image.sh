#!/bin/bash
# vm-image.sh - small bootable cloud-style qcow2 images for the qemu driver's tests (run as root).
# The default image (Debian's genericcloud) cannot be downloaded here, so the tests boot one built the same
# way from Debian packages: a kernel (linux-image-cloud-amd64), GRUB's BIOS boot code, cloud-init (NoCloud
# seed), openssh-server, sudo, growpart, AppArmor (Debian's kernel enables it, so dockerd needs its parser),
# sshfs (the qemu driver's shared folders; Debian's genericcloud image lacks it and moor installs it there).
# No loop device and no mount of the disk: the test hosts' cached Debian 12 root file system
# (test/e2e/testhost) unpacked into a folder, apt-get inside systemd-nspawn, `mkfs.ext4 -d` at the
# partition's offset inside a raw file with an MBR written by printf, GRUB's boot.img and a core.img from
# grub-mkimage written with dd, then qemu-img convert to qcow2.
#
#   vm-image.sh build             # prints the paths of the three images (building what is not cached):
#                                 #   base (cloud-init + sshd), docker (docker.io preinstalled), noboot
#
# noboot: a disk whose boot loader prints to the serial console and waits forever (never any SSH), for
# the test of a boot that never reaches SSH.
# Cache: $VM_CACHE/debian12-<hash>.qcow2, debian12-docker-<hash>.qcow2, noboot-<hash>.qcow2; <hash> covers
# this recipe, so editing it rebuilds; stale images are removed.
set -euo pipefail
shopt -s nullglob

VM_CACHE=${VM_CACHE:-/var/cache/moor-vmimage}
VM_PKGS="linux-image-cloud-amd64 initramfs-tools grub-pc-bin cloud-init cloud-guest-utils isc-dhcp-client apparmor sshfs"
TESTHOST=$(cd "$(dirname "$0")/../e2e/testhost" && pwd)/testhost.sh
VM_DISK_MB=2048
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

die() { echo "vm-image: $*" >&2; exit 1; }
# The test hosts' base tarball (built and cached by testhost.sh when missing).
testhost_tarball() {
  bash "$TESTHOST" build >&2
  local t; for t in /var/cache/moor-testhost/bookworm-????????.tar.zst; do echo "$t"; return 0; done
  die "no test host tarball in /var/cache/moor-testhost"
}
unpack_testhost_rootfs() { mkdir -p "$1"; tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' -I zstd -xf "$TARBALL"; }
log() { echo "vm-image: $*" >&2; }

build_rootfs() {   # $1 = folder to fill
  local R=$1
  # The test hosts' cached Debian 12 root file system (systemd, openssh-server, sudo, ifupdown...), plus
  # what a cloud image has: apt-get inside systemd-nspawn (which gives it /proc and /dev, no mount of ours).
  unpack_testhost_rootfs "$R"
  systemd-nspawn -q --register=no --keep-unit --directory="$R" --resolv-conf=replace-host --timezone=off \
    --setenv=DEBIAN_FRONTEND=noninteractive /bin/sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $VM_PKGS" \
    </dev/null >"$VM_CACHE/build.log" 2>&1 || { tail -20 "$VM_CACHE/build.log" >&2; die "apt-get install failed"; }
  echo 'LABEL=root / ext4 defaults,discard 0 1' >"$R/etc/fstab"
  # Cloud-init reads only the NoCloud seed (no network metadata probes, which would wait for timeouts).
  echo 'datasource_list: [ NoCloud, None ]' >"$R/etc/cloud/cloud.cfg.d/90-moor-test.cfg"
  # ifupdown brings up what cloud-init renders into /etc/network/interfaces.d.
  printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' >"$R/etc/network/interfaces"
  local u; for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
                    e2scrub_reap.service man-db.timer; do
    find "$R/etc/systemd/system" -name "$u" -path '*.wants/*' -delete; ln -sf /dev/null "$R/etc/systemd/system/$u"; done
  local kernel initrd
  kernel=$(find "$R/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | head -1)
  initrd=$(find "$R/boot" -maxdepth 1 -name 'initrd.img-*' -printf '%f\n' | head -1)
  if [ -z "$kernel" ] || [ -z "$initrd" ]; then die "no kernel or initrd in $R/boot"; fi
  mkdir -p "$R/boot/grub"
  cp -r "$R/usr/lib/grub/i386-pc" "$R/boot/grub/"
  cat >"$R/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
menuentry debian {
  search --no-floppy --label root --set=root
  linux /boot/$kernel root=LABEL=root ro console=tty0 console=ttyS0,115200n8 net.ifnames=0
  initrd /boot/$initrd
}
EOF
}

add_docker() {   # $1 = rootfs folder (a copy of the base) to add Debian's docker.io to
  local R=$1
  systemd-nspawn -q --register=no --keep-unit --directory="$R" --resolv-conf=replace-host --timezone=off \
    --setenv=DEBIAN_FRONTEND=noninteractive /bin/sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io' \
    </dev/null >"$VM_CACHE/build-docker.log" 2>&1 || { tail -20 "$VM_CACHE/build-docker.log" >&2; die "docker.io install failed"; }
}

finish_rootfs() {   # strip per-machine identity and apt caches
  local R=$1
  rm -f "$R"/etc/ssh/ssh_host_*; : >"$R/etc/machine-id"; rm -f "$R/var/lib/dbus/machine-id"
  : >"$R/etc/resolv.conf"; rm -rf "$R/var/lib/cloud"
  chroot "$R" apt-get clean; rm -rf "$R"/var/lib/apt/lists/*; mkdir -p "$R/var/lib/apt/lists/partial"
}

le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
# An MBR partition table of one bootable Linux partition (type 0x83) at sector $2 of $3 sectors, written
# directly (what sfdisk would write; sfdisk is not on every machine): entry 1 at byte 446, signature at 510.
mbr_partition() {   # $1 raw disk  $2 first sector  $3 sectors
  # shellcheck disable=SC2059
  printf "\\x80\\xfe\\xff\\xff\\x83\\xfe\\xff\\xff$(le32 "$2")$(le32 "$3")" | dd of="$1" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

# A disk: MBR with one bootable Linux partition from 1 MiB; GRUB's boot.img in the MBR (its default kernel
# sector is 1), core.img from sector 1 (grub-mkimage fills in diskboot's block count; start sector 2 is
# diskboot's default), the ext4 file system made from the folder at the partition's offset.
make_disk() {   # $1 rootfs folder  $2 output qcow2
  local R=$1 out=$2 raw="$2.raw"
  rm -f "$raw"; truncate -s "${VM_DISK_MB}M" "$raw"
  mbr_partition "$raw" 2048 $(((VM_DISK_MB - 1) * 2048))
  chroot "$R" grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' \
    biosdisk part_msdos ext2 search search_label normal linux configfile serial terminal echo gzio
  local core=$R/tmp/core.img
  [ "$(stat -c %s "$core")" -lt $((2047 * 512)) ] || die "core.img does not fit before the partition"
  dd if="$R/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
  dd if="$core" of="$raw" bs=512 seek=1 conv=notrunc status=none
  rm -f "$core"
  mkfs.ext4 -q -F -L root -d "$R" -E offset=$((2048 * 512)) "$raw" $(((VM_DISK_MB - 1) * 1024))k
  qemu-img convert -O qcow2 "$raw" "$out.tmp"; rm -f "$raw"; mv "$out.tmp" "$out"
}

make_noboot() {   # $1 rootfs folder (for GRUB's files)  $2 output qcow2
  local R=$1 out=$2 raw="$2.raw"
  printf 'serial --unit=0 --speed=115200\nterminal_output serial\necho "moor-test: this disk has no operating system"\nsleep 100000\n' \
    >"$R/tmp/noboot.cfg"
  chroot "$R" grub-mkimage -O i386-pc -o /tmp/noboot.img -c /tmp/noboot.cfg -p / biosdisk serial terminal echo sleep
  rm -f "$raw"; truncate -s 64M "$raw"
  dd if="$R/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
  dd if="$R/tmp/noboot.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none   # the BIOS boots only a signed MBR
  rm -f "$R/tmp/noboot.img" "$R/tmp/noboot.cfg"
  qemu-img convert -O qcow2 "$raw" "$out.tmp"; rm -f "$raw"; mv "$out.tmp" "$out"
}

recipe_hash() { { declare -f build_rootfs add_docker finish_rootfs make_disk make_noboot; echo "$VM_PKGS $VM_DISK_MB $TARBALL"; } | md5sum | cut -c1-8; }

build() {
  mkdir -p "$VM_CACHE"
  TARBALL=$(testhost_tarball)
  local h base docker noboot
  h=$(recipe_hash); base="$VM_CACHE/debian12-$h.qcow2"; docker="$VM_CACHE/debian12-docker-$h.qcow2"; noboot="$VM_CACHE/noboot-$h.qcow2"
  exec 9>"$VM_CACHE/.build.lock"; flock 9
  if [ ! -s "$base" ] || [ ! -s "$docker" ] || [ ! -s "$noboot" ]; then
    local t0=$SECONDS
    R="$VM_CACHE/build-rootfs.$$"
    rm -rf "$R"; trap 'rm -rf "$R" "$VM_CACHE"/*.raw "$VM_CACHE"/*.tmp' EXIT
    log "$TARBALL + cloud image packages -> $R"
    build_rootfs "$R"
    [ -s "$noboot" ] || make_noboot "$R" "$noboot"
    finish_rootfs "$R"
    [ -s "$base" ] || { make_disk "$R" "$base"; log "cached $base ($(du -h "$base" | cut -f1))"; }
    if [ ! -s "$docker" ]; then
      add_docker "$R"; finish_rootfs "$R"; make_disk "$R" "$docker"; log "cached $docker ($(du -h "$docker" | cut -f1))"
    fi
    rm -rf "$R"; trap - EXIT
    local old; for old in "$VM_CACHE"/debian12-????????.qcow2 "$VM_CACHE"/debian12-docker-????????.qcow2 "$VM_CACHE"/noboot-????????.qcow2; do
      case $old in "$base" | "$docker" | "$noboot") ;; *) rm -f "$old" ;; esac; done
    log "build took $((SECONDS - t0))s"
  fi
  exec 9>&-
  printf '%s\n%s\n%s\n' "$base" "$docker" "$noboot"
}

case ${1:-} in
  build) build ;;
  *) die "usage: vm-image.sh build" ;;
esac
