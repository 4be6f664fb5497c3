#!/usr/bin/env bash
# Fetches Debian sid's containerd (2.x) .deb with apt into a private directory and unpacks
# it with dpkg -x, without installing it over the system's containerd. The archive's address
# is read from this machine's own apt configuration; nothing here names it.
#   usage: scripts/fetch-containerd2.sh DEST   -> DEST/usr/bin/containerd, DEST/usr/bin/ctr
set -euo pipefail
dest=${1:?usage: fetch-containerd2.sh DEST}
if [ -x "$dest/usr/bin/containerd" ]; then
  echo "containerd 2.x already unpacked in $dest"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
[ -n "$uri" ] || { echo "no Debian archive found in this machine's apt sources" >&2; exit 1; }

mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc"
cat > "$work/etc/sid.sources" <<SOURCES
Types: deb
URIs: $uri
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$work/etc"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "APT::Architecture=$(dpkg --print-architecture)"
  -o "APT::Sandbox::User=root"
)
apt-get "${opts[@]}" update -qq
( cd "$work" && apt-get "${opts[@]}" download containerd )
mkdir -p "$dest"
dpkg -x "$work"/containerd_*.deb "$dest"
"$dest/usr/bin/containerd" --version
