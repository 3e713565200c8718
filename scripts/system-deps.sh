#!/usr/bin/env bash
# Install the Debian packages gridsvc needs, only those missing; `apt-get update` runs once, first.
# Usage: scripts/system-deps.sh [run|test]   (test adds PostGIS and Chromium for the test suite)
set -euo pipefail
purpose="${1:-run}"
wanted=(libsqlite3-mod-spatialite)
# npm installs the browser's packages (package-lock.json: idb for the phone recorder; mocha for its tests).
command -v node >/dev/null 2>&1 || wanted+=(nodejs)
command -v npm >/dev/null 2>&1 || wanted+=(npm)
if [ "$purpose" = "test" ]; then
  wanted+=(postgresql-15-postgis-3 chromium fonts-wqy-microhei nginx openssl curl)
fi
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
