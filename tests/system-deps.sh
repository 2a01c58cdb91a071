#!/usr/bin/env bash
# What the tests need from Debian besides Python: Chromium (browser tests, driven by Playwright) and
# CJK fonts (Chinese pages render in screenshots). `make test` and `.ci/run` call this first.
# As root it installs what is missing; otherwise it stops and prints the exact command to run.
# Extra COMMAND=PACKAGE arguments add more (CI: pg_isready=postgresql-client redis-cli=redis-tools).
set -euo pipefail

missing=()
# The browser tests launch exactly /usr/bin/chromium (tests/e2e/harness.py); CHROMIUM: another path to check.
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
# (no grep -q: it would stop reading early, and pipefail would count fc-list's SIGPIPE as missing fonts)
{ command -v fc-list >/dev/null 2>&1 && fc-list : family 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null; } \
  || missing+=(fonts-noto-cjk)
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${EUID:-$(id -u)}" -ne 0 ]; then
  echo "The tests need Debian packages that are missing: ${missing[*]}" >&2
  echo "Run as root, then make test again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "== installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
