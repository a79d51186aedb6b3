#!/bin/bash
# testhost.sh - disposable "remote Debian 12 servers" for moor's end-to-end tests. Run as root.
# Each host is a `systemd-nspawn --boot` container (real systemd as PID 1, OpenSSH server, can apt-get install
# docker.io and run dockerd under systemd) in its own network namespace, veth-attached to the bridge $TH_BR
# (gateway 10.123.0.1/24) and NAT'd to the outside (Debian's package registry). Only 10.123.0.0/24 is used.
#
#   testhost.sh build [--with-docker]      # debootstrap + cached rootfs tarball (done automatically by `up`)
#   testhost.sh up NAME IP [PUBKEY_FILE] [--ssh-port N] [--no-docker-user] [--with-docker]
#   testhost.sh preinstall-docker NAME     # apt-get install docker.io inside the running host (20-25 s)
#   testhost.sh regen-hostkeys NAME        # new /etc/ssh/ssh_host_* keys, restart sshd
#   testhost.sh exec NAME CMD...           # run CMD (a shell string) inside the host as root, no ssh
#   testhost.sh stop NAME                  # power off, keep the disk (a later `up` boots it again)
#   testhost.sh down NAME                  # power off and delete the host (its netns and veth too)
#   testhost.sh net-down                   # remove bridge + iptables rules, only when no host exists
#   testhost.sh list | cleanup             # cleanup: every host, netns, veth, bridge, rule; safe to repeat
#
# Users in every host, all accepting PUBKEY_FILE (default: $TH_DIR/keys/id_ed25519.pub, generated):
#   root; docker (passwordless sudo; group `docker` is reused by docker.io); nosudo (no sudo rights).
# Options of `up` (or the environment): --ssh-port N (TESTHOST_SSH_PORT, default 22): sshd listens on N only.
#   --no-docker-user (TESTHOST_NO_DOCKER_USER=1): the host has no `docker` user. --with-docker
#   (TESTHOST_WITH_DOCKER=1): boot from the second cached tarball, which has Debian's docker.io preinstalled
#   (socket-activated as Debian ships it; same end state as `preinstall-docker`, without the 20-25 s apt run).
#   The options only shape a new host's disk; `up` of a stopped host keeps what it had (port: see $D/port).
# Caches: $TH_CACHE/bookworm-<hash>.tar.zst and bookworm-docker-<hash>.tar.zst; <hash> covers the build
#   recipe below, so editing it rebuilds; stale tarballs are removed. Host disks: $TH_DIR/hosts/NAME/rootfs,
#   which must be on a plain filesystem (ext4...), never overlayfs (dockerd's overlay2 does not nest on it).
# Client side: PATH=$TH_DIR/bin:$PATH docker -H ssh://root@IP info   ($TH_DIR/bin/ssh: no host key checks)
#
# Pitfalls solved here (keep them): --capability=all (nspawn drops CAP_NET_ADMIN with
# --network-namespace-path; dockerd's iptables needs it); cgroup v1 controllers are mounted read-only by nspawn
# (a oneshot unit remounts them rw); --system-call-filter='@keyring bpf' (runc's session keyring);
# SYSTEMD_NSPAWN_API_VFS_WRITABLE=network (dockerd writes /proc/sys/net); FORWARD ACCEPT for the bridge +
# MASQUERADE for 10.123.0.0/24 (the FORWARD policy is DROP when a dockerd runs on the machine);
# systemd-container must match the machine's systemd version (see install-deps.sh).
set -euo pipefail
shopt -s nullglob

TH_DIR=${TH_DIR:-/var/lib/moor-testhost}
TH_CACHE=${TH_CACHE:-/var/cache/moor-testhost}
TH_MIRROR=${TH_MIRROR:-http://deb.debian.org/debian}
TH_BR=${TH_BR:-thbr0}
TH_PREFIX=10.123.0                # fixed: hosts only ever live in 10.123.0.0/24
TH_GW=$TH_PREFIX.1
TH_PKGS=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,iputils-ping,ca-certificates,curl,gnupg,procps,less,kmod,netbase,ifupdown,apt-utils
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

die() { echo "testhost: $*" >&2; exit 1; }
log() { echo "testhost: $*" >&2; }
hdir() { echo "$TH_DIR/hosts/$1"; }
hveth() { echo "th-$(printf %s "$1" | md5sum | cut -c1-8)"; }   # <=15 chars
nspid() {   # the host's systemd-nspawn process: from its pid file, else found by its --directory
  local D p; D=$(hdir "$1")
  if [ -f "$D/nspawn.pid" ]; then p=$(cat "$D/nspawn.pid")
    kill -0 "$p" 2>/dev/null && grep -q systemd-nspawn "/proc/$p/cmdline" 2>/dev/null && { echo "$p"; return 0; }; fi
  for p in $(pgrep -x systemd-nspawn || true); do
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qxF -- "--directory=$D/rootfs" && { echo "$p"; return 0; }; done
  return 1; }
leader() { local p l; p=$(nspid "$1") || return 1; l=$(awk '{print $1}' "/proc/$p/task/$p/children"); [ -n "$l" ] && echo "$l"; }
hport() { cat "$(hdir "$1")/port" 2>/dev/null || echo 22; }
valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad name '$1' (a-z 0-9 -, at most 31)"; }

fs_check() {   # rootfs dirs must not be on overlayfs
  mkdir -p "$1"; local t; t=$(df --output=fstype "$1" | tail -1 | tr -d " ")
  case $t in overlay*) die "$1 is on $t: set TH_DIR/TH_CACHE to a folder on a plain filesystem (ext4, xfs...)";; esac
}

# ---------------------------------------------------------------------------------------------- cache
build_base() {   # $1 = rootfs dir to fill
  local R=$1
  debootstrap --variant=minbase --include="$TH_PKGS" bookworm "$R" "$TH_MIRROR" >"$TH_CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$TH_CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  cat >"$R/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' >"$R/etc/ssh/sshd_config.d/testhost.conf"
  chroot "$R" useradd -m -s /bin/bash -G sudo docker        # group 'docker' (gid 1000) reused by docker.io
  echo 'docker ALL=(ALL) NOPASSWD:ALL' >"$R/etc/sudoers.d/docker"; chmod 440 "$R/etc/sudoers.d/docker"
  chroot "$R" useradd -m -s /bin/bash nosudo                 # a user without any sudo rights
  # nspawn mounts cgroup-v1 controllers read-only; dockerd/runc must create cgroups.
  cat >"$R/etc/systemd/system/cgroup-rw.service" <<'EOF'
[Unit]
Description=Make cgroup v1 controller mounts writable (systemd-nspawn test host)
DefaultDependencies=no
Before=sysinit.target containerd.service docker.service
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mount -o remount,rw /sys/fs/cgroup; for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$d" || true; done; mount -o remount,ro /sys/fs/cgroup'

[Install]
WantedBy=sysinit.target
EOF
  mkdir -p "$R/etc/systemd/system/sysinit.target.wants"
  ln -sf /etc/systemd/system/cgroup-rw.service "$R/etc/systemd/system/sysinit.target.wants/"
  # no background apt / pointless units in a test host
  local u; for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
                    e2scrub_reap.service getty@tty1.service systemd-pstore.service; do
    find "$R/etc/systemd/system" -name "$u" -path '*.wants/*' -delete; ln -sf /dev/null "$R/etc/systemd/system/$u"; done
}

build_docker() {   # $1 = rootfs dir (a copy of the base) to add Debian's docker.io to
  local R=$1
  # Not booted: postinst scripts enable docker.socket/docker.service but start nothing (as a fresh install
  # followed by a boot). The host's network is shared here, so apt reaches the mirror without the bridge.
  systemd-nspawn -q --register=no --keep-unit --directory="$R" --resolv-conf=replace-host --timezone=off \
    --setenv=DEBIAN_FRONTEND=noninteractive /bin/sh -c 'apt-get update -qq && apt-get install -y -qq docker.io' \
    </dev/null >"$TH_CACHE/build-docker.log" 2>&1 || { tail -20 "$TH_CACHE/build-docker.log" >&2; die "docker.io install failed"; }
}

finish_rootfs() {  # strip per-host identity + apt caches
  local R=$1
  rm -f "$R"/etc/ssh/ssh_host_*; : >"$R/etc/machine-id"
  chroot "$R" apt-get clean; rm -rf "$R"/var/lib/apt/lists/*; mkdir -p "$R/var/lib/apt/lists/partial"
}

recipe_hash() { { declare -f build_base build_docker finish_rootfs; echo "$TH_PKGS"; } | md5sum | cut -c1-8; }
tarball() { echo "$TH_CACHE/bookworm${1:+-$1}-$(recipe_hash).tar.zst"; }   # tarball [docker]

pack() {   # $1 rootfs  $2 tarball
  tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' -I 'zstd -T0 -3' -cf "$2.tmp" .
  mv "$2.tmp" "$2"; log "cached $2 ($(du -h "$2" | cut -f1))"
}
unpack() { mkdir -p "$2"; tar -C "$2" --numeric-owner --xattrs --xattrs-include='*' -I zstd -xf "$1"; }

build() {   # build [--with-docker]
  local variant=
  case ${1:-} in --with-docker) variant=docker ;; '') ;; *) die "build: unknown option $1" ;; esac
  local T; T=$(tarball "$variant")
  [ -s "$T" ] && return 0
  [ -z "$variant" ] || build                         # the docker variant starts from the base tarball
  fs_check "$TH_CACHE"; fs_check "$TH_DIR"
  exec 9>"$TH_CACHE/.build.lock"; flock 9
  if [ ! -s "$T" ]; then
    local R="$TH_DIR/build-rootfs.$$" t0=$SECONDS; rm -rf "$R"
    if [ -z "$variant" ]; then
      log "debootstrap bookworm -> $R"
      build_base "$R"
    else
      log "docker.io variant -> $R"
      unpack "$(tarball)" "$R"; build_docker "$R"
    fi
    finish_rootfs "$R"; pack "$R" "$T"; rm -rf "$R"
    local old; for old in "$TH_CACHE"/bookworm"${variant:+-$variant}"-????????.tar.zst; do [ "$old" = "$T" ] || rm -f "$old"; done
    log "build${variant:+ --with-docker} took $((SECONDS - t0))s"
  fi
  exec 9>&-                                          # release lock; don't leak the fd into nspawn
}

# ---------------------------------------------------------------------------------------------- network
net_setup() {
  exec 8>"$TH_DIR/.net.lock"; flock 8
  ip link show "$TH_BR" >/dev/null 2>&1 || ip link add "$TH_BR" type bridge
  ip -4 addr show dev "$TH_BR" | grep -q "inet $TH_GW/" || ip addr add "$TH_GW/24" dev "$TH_BR"
  ip link set "$TH_BR" up
  [ -f "$TH_DIR/.ip_forward.orig" ] || cat /proc/sys/net/ipv4/ip_forward >"$TH_DIR/.ip_forward.orig"
  sysctl -qw net.ipv4.ip_forward=1
  # FORWARD policy is DROP when dockerd runs here; accept our bridge, masquerade to the outside.
  iptables -C FORWARD -i "$TH_BR" -j ACCEPT 2>/dev/null || iptables -I FORWARD 1 -i "$TH_BR" -j ACCEPT
  iptables -C FORWARD -o "$TH_BR" -j ACCEPT 2>/dev/null || iptables -I FORWARD 1 -o "$TH_BR" -j ACCEPT
  iptables -t nat -C POSTROUTING -s "$TH_PREFIX.0/24" ! -o "$TH_BR" -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$TH_PREFIX.0/24" ! -o "$TH_BR" -j MASQUERADE
  exec 8>&-
}

net_teardown() {   # caller holds the net lock
  local i
  for i in 1 2 3 4 5 6 7 8; do iptables -D FORWARD -i "$TH_BR" -j ACCEPT 2>/dev/null || break; done
  for i in 1 2 3 4 5 6 7 8; do iptables -D FORWARD -o "$TH_BR" -j ACCEPT 2>/dev/null || break; done
  for i in 1 2 3 4 5 6 7 8; do
    iptables -t nat -D POSTROUTING -s "$TH_PREFIX.0/24" ! -o "$TH_BR" -j MASQUERADE 2>/dev/null || break; done
  ip link del "$TH_BR" 2>/dev/null || true
  if [ -f "$TH_DIR/.ip_forward.orig" ]; then
    sysctl -qw net.ipv4.ip_forward="$(cat "$TH_DIR/.ip_forward.orig")" || true; rm -f "$TH_DIR/.ip_forward.orig"; fi
}

net_down() {   # only when no host (running or not) is left
  [ -d "$TH_DIR" ] || return 0
  exec 8>"$TH_DIR/.net.lock"; flock 8
  local d; for d in "$TH_DIR"/hosts/*/; do exec 8>&-; return 0; done
  net_teardown; exec 8>&-
}

# ---------------------------------------------------------------------------------------------- hosts
client_helpers() {   # default key + ssh wrapper for `docker -H ssh://...` (docker CLI calls plain `ssh`)
  mkdir -p "$TH_DIR/bin" "$TH_DIR/keys"
  if [ ! -f "$TH_DIR/keys/id_ed25519" ]; then
    local k="$TH_DIR/keys/.new.$$"; rm -f "$k" "$k.pub"; ssh-keygen -q -t ed25519 -N '' -C testhost -f "$k"
    mv "$k.pub" "$TH_DIR/keys/id_ed25519.pub"; mv "$k" "$TH_DIR/keys/id_ed25519"; fi
  [ -f "$TH_DIR/ssh_config" ] || printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  IdentityFile %s\n' \
       "$TH_DIR/keys/id_ed25519" >"$TH_DIR/ssh_config"
  [ -x "$TH_DIR/bin/ssh" ] || { printf '#!/bin/sh\nexec /usr/bin/ssh -F %s ${TESTHOST_IDENTITY:+-i "$TESTHOST_IDENTITY"} "$@"\n' \
       "$TH_DIR/ssh_config" >"$TH_DIR/bin/ssh"; chmod 755 "$TH_DIR/bin/ssh"; }
}

authorize() {  # $1 rootfs  $2 pubkey file: root, docker (if present), nosudo
  local R=$1 K=$2 u h o
  install -d -m 700 "$R/root/.ssh"; touch "$R/root/.ssh/authorized_keys"
  grep -qxF "$(cat "$K")" "$R/root/.ssh/authorized_keys" || cat "$K" >>"$R/root/.ssh/authorized_keys"
  chmod 600 "$R/root/.ssh/authorized_keys"
  for u in docker nosudo; do
    h=$R/home/$u; [ -d "$h" ] || continue; o=$(stat -c %u:%g "$h")
    install -d -m 700 -o "${o%:*}" -g "${o#*:}" "$h/.ssh"
    install -m 600 -o "${o%:*}" -g "${o#*:}" "$R/root/.ssh/authorized_keys" "$h/.ssh/authorized_keys"
  done
}

wait_ssh() { local ip=$1 port=$2 t=${3:-60} i
  for ((i = 0; i < t * 5; i++)); do
    timeout 1 bash -c "exec 3<>/dev/tcp/$ip/$port && head -c4 <&3" 2>/dev/null | grep -q SSH- && return 0; sleep 0.2; done
  return 1; }

up() {
  local args=() port=${TESTHOST_SSH_PORT:-22} nodocker=${TESTHOST_NO_DOCKER_USER:-} variant=
  [ -n "${TESTHOST_WITH_DOCKER:-}" ] && [ "${TESTHOST_WITH_DOCKER}" != 0 ] && variant=docker
  [ "$nodocker" = 0 ] && nodocker=
  while [ $# -gt 0 ]; do
    case $1 in
      --ssh-port) port=${2:?--ssh-port N}; shift ;; --ssh-port=*) port=${1#*=} ;;
      --no-docker-user) nodocker=1 ;; --with-docker) variant=docker ;;
      -*) die "up: unknown option $1" ;; *) args+=("$1") ;;
    esac; shift
  done
  local N=${args[0]:-} IP=${args[1]:-} K=${args[2]:-${TESTHOST_PUBKEY:-}}
  [ -n "$N" ] && [ -n "$IP" ] || die "usage: up NAME IP [PUBKEY_FILE] [--ssh-port N] [--no-docker-user] [--with-docker]"
  valid_name "$N"
  [[ $IP =~ ^10\.123\.0\.([0-9]{1,3})$ ]] && ((BASH_REMATCH[1] > 1 && BASH_REMATCH[1] < 255)) \
    || die "IP must be in $TH_PREFIX.2-254"
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad ssh port '$port'"
  local t0=$SECONDS D f; D=$(hdir "$N")
  fs_check "$TH_DIR"
  for f in "$TH_DIR"/hosts/*/ip; do   # IP clash with another host?
    [ "$f" != "$D/ip" ] && [ "$(cat "$f")" = "$IP" ] && die "IP $IP already used by $(basename "$(dirname "$f")")"; done
  client_helpers; [ -n "$K" ] || K=$TH_DIR/keys/id_ed25519.pub; [ -r "$K" ] || die "no pubkey $K"
  mkdir -p "$D"; build ${variant:+--with-docker}; net_setup
  if nspid "$N" >/dev/null; then
    [ "$(cat "$D/ip")" = "$IP" ] || die "$N already running with IP $(cat "$D/ip")"
    authorize "$D/rootfs" "$K"; wait_ssh "$IP" "$(hport "$N")" 60 || die "$N: sshd not answering"
    echo "$N $IP running"; return 0
  fi
  local R=$D/rootfs
  if [ ! -e "$R/etc/os-release" ]; then
    rm -rf "$R"; unpack "$(tarball "$variant")" "$R"
    echo "$N" >"$R/etc/hostname"; printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$N" >"$R/etc/hosts"
    tr -d - </proc/sys/kernel/random/uuid >"$R/etc/machine-id"
    chroot "$R" ssh-keygen -A >/dev/null
    # moor opens an SSH connection per operation, so root logs in and out every few seconds. logind stops the
    # user manager 10 s after the last logout, which in this container takes up to a minute; a login meanwhile
    # waits in pam_systemd, and its sshd answers nothing, not even keepalives (a swarm e2e flake). The user
    # manager stays instead, as on a server with a session open. (Per host: the cached tarballs stay valid.)
    mkdir -p "$R/etc/systemd/logind.conf.d"
    printf '[Login]\nUserStopDelaySec=infinity\n' >"$R/etc/systemd/logind.conf.d/testhost.conf"
    if [ "$port" != 22 ]; then printf 'Port %s\n' "$port" >"$R/etc/ssh/sshd_config.d/testhost-port.conf"; fi
    echo "$port" >"$D/port"
    if [ -n "$nodocker" ]; then
      chroot "$R" userdel -r docker 2>/dev/null || true; rm -f "$R/etc/sudoers.d/docker"
      # docker.io's socket is group `docker`: keep the group where docker.io is installed
      [ -z "$variant" ] || chroot "$R" sh -c 'getent group docker >/dev/null || groupadd --system docker'
    fi
  fi
  authorize "$R" "$K"; echo "$IP" >"$D/ip"
  local NS=th-$N V; V=$(hveth "$N")
  [ -e "/run/netns/$NS" ] || ip netns add "$NS"
  if ! ip -n "$NS" link show eth0 >/dev/null 2>&1; then
    ip link del "$V" 2>/dev/null || true
    ip link add "$V" type veth peer name eth0 netns "$NS"
    ip link set "$V" master "$TH_BR" up
  fi
  ip -n "$NS" addr flush dev eth0; ip -n "$NS" addr add "$IP/24" dev eth0
  ip -n "$NS" link set lo up; ip -n "$NS" link set eth0 up
  ip -n "$NS" route replace default via "$TH_GW"
  # --capability=all: CAP_NET_ADMIN etc. (netns-path does not count as "private network")
  # @keyring: runc joins a session keyring; API_VFS_WRITABLE=network: writable /proc/sys/net
  SYSTEMD_NSPAWN_API_VFS_WRITABLE=network setsid systemd-nspawn --boot --register=no --keep-unit \
    --directory="$R" --machine="$N" --network-namespace-path="/run/netns/$NS" \
    --resolv-conf=copy-host --timezone=off --console=passive --capability=all \
    --system-call-filter='@keyring bpf' </dev/null >"$D/nspawn.log" 2>&1 &
  echo $! >"$D/nspawn.pid"
  wait_ssh "$IP" "$(hport "$N")" 90 || { tail -20 "$D/nspawn.log" >&2; die "$N: sshd did not come up"; }
  echo "$N $IP up in $((SECONDS - t0))s"
}

kill_nspawn() {   # $1 nspawn pid: orderly poweroff (nspawn -> SIGRTMIN+3 to the host's systemd), else SIGKILL
  local p=$1 l i; l=$(awk '{print $1}' "/proc/$p/task/$p/children" 2>/dev/null || true)
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  log "systemd-nspawn $p did not stop in 30 s: killing it"
  if [ -n "$l" ]; then kill -KILL "$l" 2>/dev/null || true; fi   # the host's PID 1: takes its pid namespace along
  kill -KILL "$p" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
}

stop() {
  local N=${1:?NAME} D p; valid_name "$N"; D=$(hdir "$N")
  if p=$(nspid "$N"); then kill_nspawn "$p"; fi
  rm -f "$D/nspawn.pid"; rmdir "/run/systemd/nspawn/propagate/$N" 2>/dev/null || true
  ip netns del "th-$N" 2>/dev/null || true; ip link del "$(hveth "$N")" 2>/dev/null || true
}

down() {
  local N=${1:?NAME} D; valid_name "$N"; D=$(hdir "$N"); stop "$N"
  [ -d "$D" ] || return 0
  if grep -q " $D/" /proc/self/mountinfo; then log "mounts still present under $D, not deleting"; return 1; fi
  rm -rf "$D"; echo "$N removed"
}

hexec() {
  local N=${1:?NAME} l; shift; l=$(leader "$N") || die "$N not running"
  nsenter -t "$l" -m -u -i -n -p -C -r -w -- /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive /bin/sh -c "$*"
}

preinstall_docker() {   # Debian's docker.io, left socket-activated as Debian ships it
  local N=${1:?NAME} t0=$SECONDS i; leader "$N" >/dev/null || die "$N not running"
  if ! hexec "$N" 'dpkg-query -W -f="\${db:Status-Status}" docker.io 2>/dev/null | grep -qx installed'; then
    hexec "$N" 'apt-get update -qq && apt-get install -y -qq docker.io' >"$(hdir "$N")/preinstall-docker.log" 2>&1 \
      || { tail -20 "$(hdir "$N")/preinstall-docker.log" >&2; die "$N: apt-get install docker.io failed"; }
  fi
  for ((i = 0; i < 100; i++)); do hexec "$N" 'systemctl is-active -q docker.socket' && break; sleep 0.2; done
  hexec "$N" 'systemctl is-active -q docker.socket' || die "$N: docker.socket not active"
  echo "$N docker.io installed in $((SECONDS - t0))s"
}

regen_hostkeys() {
  local N=${1:?NAME}; leader "$N" >/dev/null || die "$N not running"
  hexec "$N" 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh'
  wait_ssh "$(cat "$(hdir "$N")/ip")" "$(hport "$N")" 30 || die "$N: sshd not answering after restart"
  hexec "$N" 'for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$f"; done'
}

cleanup() {   # everything this script created except the caches; safe to run twice
  local d n p ns l
  for d in "$TH_DIR"/hosts/*/; do down "$(basename "$d")" || true & done; wait   # in parallel
  # strays: nspawn processes on our disks, netns/veths named by us, whose state dir is gone
  for p in $(pgrep -x systemd-nspawn || true); do
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^--directory=$TH_DIR/" || continue
    log "stopping stray systemd-nspawn $p"; kill_nspawn "$p" &
  done; wait
  for ns in /run/netns/th-*; do ip netns del "$(basename "$ns")" 2>/dev/null || true; done
  for l in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^th-[0-9a-f]{8}$' || true); do
    ip link del "$l" 2>/dev/null || true; done
  if [ -d "$TH_DIR" ]; then exec 8>"$TH_DIR/.net.lock"; flock 8; net_teardown; exec 8>&-
  else ip link del "$TH_BR" 2>/dev/null || true; fi
  rm -rf "$TH_DIR"/build-rootfs.* "$TH_DIR"/runs "$TH_DIR"/ips   # per-run keys, IP reservations (test/helpers)
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null || true
}

list() { local d n; for d in "$TH_DIR"/hosts/*/; do n=$(basename "$d")
  printf '%-16s %-15s %-5s %s\n' "$n" "$(cat "$d/ip" 2>/dev/null)" "$(hport "$n")" "$(nspid "$n" >/dev/null && echo running || echo stopped)"; done; }

[ "$(id -u)" = 0 ] || die "run as root"
cmd=${1:-}; shift || true
case $cmd in
  build) build "$@" ;; up) up "$@" ;; stop) stop "$@" ;; down) down "$@" ;; exec) hexec "$@" ;;
  preinstall-docker) preinstall_docker "$@" ;; regen-hostkeys) regen_hostkeys "$@" ;;
  net-down) net_down ;; list) list ;; cleanup) cleanup ;;
  *) sed -n '2,34p' "$0"; exit 2 ;;
esac
