#!/usr/bin/env bash
# Host packages for the booted-machine tests (__tests__/system): mmdebstrap builds the
# machine's Debian root, systemd-nspawn (systemd-container) boots it, nsenter (util-linux)
# runs commands in it. Idempotent: installs only what is missing. Run as root.
#   usage: scripts/system-deps.sh
set -euo pipefail
need=()
for pkg in mmdebstrap systemd-container util-linux ca-certificates xz-utils; do
  dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "system test packages already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/system-deps.sh: needs root to install ${need[*]}" >&2
  exit 1
fi
# one update per machine is enough; a missing list makes install fail, so update when no list is there
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ] || ! apt-cache show "${need[0]}" >/dev/null 2>&1; then
  apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
