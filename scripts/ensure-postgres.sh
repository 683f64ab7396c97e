#!/usr/bin/env bash
# The read-model tests run against a real, private PostgreSQL cluster; this makes sure its server binaries exist.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL server binaries (Debian package postgresql) for the read-model tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL server binaries (initdb, pg_ctl) are missing: install PostgreSQL, or run 'make test' as root on Debian" >&2
exit 1
