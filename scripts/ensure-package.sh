#!/usr/bin/env bash
# Makes sure a system file the tests or the stack need exists, installing its Debian package when it does not.
#   scripts/ensure-package.sh PACKAGE 'GLOB' 'what it is for'
# e.g. the PostgreSQL server binaries for the read-model tests, the DejaVu font embedded in PDF documents.
set -euo pipefail
package=$1 glob=$2 purpose=$3
# shellcheck disable=SC2086  # the glob must expand
if ls $glob >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing the Debian package $package ($purpose)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  exit 0
fi
echo "$glob is missing ($purpose): install the package $package, or run make as root on Debian" >&2
exit 1
