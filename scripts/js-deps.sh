#!/usr/bin/env bash
# Install the npm packages of package-lock.json and copy the browser's share of them into
# gridsvc/static/npm, from where the app serves them (an intranet: never a CDN).
# Usage: scripts/js-deps.sh [run|test]   (run leaves out the test runner)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"
stamp=node_modules/.gridsvc-$purpose
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  if [ "$purpose" = "run" ]; then
    npm ci --omit=dev --no-audit --no-fund --loglevel=error
  else
    npm ci --no-audit --no-fund --loglevel=error
  fi
  touch "$stamp"
fi
vendor=gridsvc/static/npm
mkdir -p "$vendor/idb"
# idb 8's ES module build is one file; its licence goes with it.
cp node_modules/idb/build/index.js "$vendor/idb/index.js"
cp node_modules/idb/LICENSE "$vendor/idb/LICENSE"
printf '{"type": "module"}\n' > "$vendor/package.json"  # for the JS unit tests: these are ES modules
