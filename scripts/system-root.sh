#!/usr/bin/env bash
# Builds (once) and caches the Debian bookworm root that __tests__/system boots with
# systemd-nspawn as a stand-in for a GitHub hosted runner, then copies it where asked.
# The archive's address is read from this machine's own apt configuration; nothing here
# names it. The cache lives outside the repo, keyed by a hash of this script (which holds
# the package list), so a second build is a copy, not a download.
#   usage: scripts/system-root.sh DIR     -> a fresh copy of the root in DIR (must not exist or be empty)
#          scripts/system-root.sh --cache -> builds the cache if needed and prints its path
# Environment: KSN_SYSTEM_CACHE (default /var/cache/ksn-system).
set -euo pipefail

# What the machine has installed, as a hosted runner has: systemd as init, Docker with its
# containerd, the CNI plugins, and the tools the tests use inside (a registry, an HTTP server,
# a static busybox for images).
PACKAGES=(
  systemd systemd-sysv dbus sudo passwd
  docker.io containerd runc containernetworking-plugins
  iptables iproute2 ca-certificates curl kmod procps util-linux
  docker-registry python3 busybox-static
  tar gzip xz-utils
)
# Not installed, only downloaded (with what they need) into /opt/ksn/debs, a flat apt
# repository the tests can serve inside the machine: the packages the action apt-installs
# when a host lacks them (kubeadm's preflight wants them).
SERVED_DEBS=(conntrack socat ebtables ethtool)

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${KSN_SYSTEM_CACHE:-/var/cache/ksn-system}

skip() { echo "system-root: cannot build the machine's root: $*" >&2; exit 3; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is missing (run scripts/system-deps.sh)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (package systemd-container; run scripts/system-deps.sh)"

hash=$(sha256sum "$here/system-root.sh" | cut -c1-16)
cache="$cache_root/root-$hash"

build() {
  local uri securi tmp
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  securi=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  fi
  [ -n "$uri" ] || skip "no Debian archive found in this machine's apt sources"
  local mirrors=("deb $uri bookworm main" "deb $uri bookworm-updates main")
  [ -n "$securi" ] && mirrors+=("deb $securi bookworm-security main")

  mkdir -p "$cache_root"
  # stale half-built roots of this or older hashes go
  rm -rf "$cache_root"/tmp-* 2>/dev/null || true
  tmp=$(mktemp -d "$cache_root/tmp-XXXXXX")
  local include
  include=$(IFS=,; echo "${PACKAGES[*]}")
  echo "system-root: building the machine's root with mmdebstrap (once; cached as $cache)" >&2
  mmdebstrap --mode=root --variant=minbase --include="$include" \
    --aptopt='Acquire::Retries "3"' \
    --customize-hook='mkdir -p "$1/opt/ksn/debs" && chroot "$1" apt-get clean' \
    --customize-hook="chroot \"\$1\" apt-get install -y -qq --download-only --no-install-recommends ${SERVED_DEBS[*]}" \
    --customize-hook='mv "$1"/var/cache/apt/archives/*.deb "$1/opt/ksn/debs/"' \
    bookworm "$tmp/root" "${mirrors[@]}" >&2

  # A flat apt repository of the served .debs: Packages and an unsigned Release
  # (sources list it with [trusted=yes]).
  (
    cd "$tmp/root/opt/ksn/debs"
    : > Packages
    for deb in *.deb; do
      { dpkg-deb -f "$deb"
        echo "Filename: ./$deb"
        echo "Size: $(stat -c %s "$deb")"
        echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
        echo; } >> Packages
    done
    gzip -9nk Packages
    { echo "Origin: ksn-system"; echo "Label: ksn-system"; echo "Suite: ksn"; echo "Codename: ksn"
      echo "Date: $(LC_ALL=C date -u -R)"; echo "SHA256:"
      for f in Packages Packages.gz; do echo " $(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"; done; } > Release
  )
  # Docker's and containerd's services start at boot only when the tests dress the
  # machine; nothing of theirs has run yet.
  rm -rf "$tmp/root/var/lib/docker" "$tmp/root/var/lib/containerd"
  printf '%s\n' "${PACKAGES[@]}" > "$tmp/root/opt/ksn/packages"
  rm -rf "$cache"
  mv "$tmp/root" "$cache"
  rmdir "$tmp"
  # older cached roots are of no more use
  for old in "$cache_root"/root-*; do [ "$old" = "$cache" ] || rm -rf "$old"; done
}

# one build at a time; a second caller waits and then copies
mkdir -p "$(dirname "$cache_root")"
exec 9>"$cache_root.lock"
flock 9
[ -d "$cache" ] || build

if [ "${1:-}" = "--cache" ]; then
  echo "$cache"
  exit 0
fi
dest=${1:?usage: system-root.sh DIR | --cache}
mkdir -p "$dest"
[ -z "$(ls -A "$dest")" ] || { echo "system-root: $dest is not empty" >&2; exit 2; }
cp -a "$cache/." "$dest/"
echo "$dest"
