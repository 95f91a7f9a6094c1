#!/usr/bin/env bash
# Makes Debian's chromium available for the console's browser tests and benchmark
# (test/console, bench/console.ts drive it through playwright-core at /usr/bin/chromium).
#   setup-chromium.sh               install chromium and its fonts when missing (Debian's packages)
#   setup-chromium.sh --no-install  only check (fails when chromium is missing)
# Prints the chromium path on success.
set -euo pipefail
install=1
[ "${1:-}" = "--no-install" ] && install=0
bin=/usr/bin/chromium

if [ ! -x "$bin" ]; then
  if [ "$install" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[chromium] installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-liberation >&2
  fi
fi
[ -x "$bin" ] || { echo "[chromium] $bin is not installed" >&2; exit 1; }
echo "$bin"
