#!/usr/bin/env bash
# Make sure the local PostgreSQL server runs and has PostGIS available; print nothing on success.
# The test suite creates (and drops) its own scratch database with the postgis extension.
set -euo pipefail
admin_url="${GRIDSVC_TEST_POSTGRES_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}"
if ! pg_isready -q -d "$admin_url" 2>/dev/null; then
  # On this kind of machine the server is started before the session; start it if it stopped.
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start 2>/dev/null || true
    for _ in $(seq 1 20); do pg_isready -q -d "$admin_url" && break; sleep 0.5; done
  fi
fi
if ! pg_isready -q -d "$admin_url" 2>/dev/null; then
  echo "PostgreSQL is not reachable at $admin_url" >&2
  exit 1
fi
if ! psql "$admin_url" -Atqc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; then
  echo "PostGIS is not installed on the server at $admin_url (Debian: postgresql-15-postgis-3)" >&2
  exit 1
fi
