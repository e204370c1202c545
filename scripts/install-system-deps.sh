#!/usr/bin/env bash
# System packages the test suite needs, from Debian's packages, installed only when missing:
#   chromium   opens the HTML audit report headless (tests/ages/test_report.py)
#   postgresql backs a tracking server (tests/record/test_postgres.py); the tests start their own
#              cluster on 127.0.0.1, so the package's service need not run.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${missing[*]} and no apt-get here; install them by hand" >&2
  exit 1
fi
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
