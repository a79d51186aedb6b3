#!/bin/bash
# Installs the Debian packages listed in packages.txt (idempotent: apt-get update runs at most once, and only
# when something is missing). Run as root. Used by .ci/run before the e2e tests.
#   TH_CACHE (default /var/cache/moor-testhost): where the busybox-static .deb is kept.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
TH_CACHE=${TH_CACHE:-/var/cache/moor-testhost}
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root" >&2; exit 1; }

updated=
apt_update() { [ -n "$updated" ] || { apt-get update -qq; updated=1; }; }
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

missing=() downloads=()
while read -r line; do
  line=${line%%#*}; line=$(echo $line)                     # strip comment + whitespace
  [ -n "$line" ] || continue
  case $line in
    download:*) downloads+=("$(echo ${line#download:})") ;;
    systemd-container) ;;                                    # pinned, below
    *) installed "$line" || missing+=("$line") ;;
  esac
done <"$here/packages.txt"

if [ ${#missing[@]} -gt 0 ]; then
  apt_update
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: installed ${missing[*]}"
fi

if ! installed systemd-container; then
  apt_update
  v=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null || true)
  if [ -n "$v" ] && apt-get install -y -qq --no-install-recommends "systemd-container=$v" >/dev/null; then
    echo "install-deps: installed systemd-container=$v"
  else
    echo "install-deps: systemd-container=$v not available, installing the candidate (upgrades systemd)" >&2
    apt-get install -y -qq --no-install-recommends systemd-container systemd >/dev/null
  fi
fi

mkdir -p "$TH_CACHE"
for p in "${downloads[@]}"; do
  compgen -G "$TH_CACHE/${p}_*.deb" >/dev/null && continue
  apt_update
  (cd "$TH_CACHE" && apt-get download -qq -o APT::Sandbox::User=root "$p")
  echo "install-deps: downloaded $(cd "$TH_CACHE" && ls ${p}_*.deb)"
done
