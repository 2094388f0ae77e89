#!/usr/bin/env bash
# Ensure Debian's chromium is installed (used by Playwright tests via
# executable_path="/usr/bin/chromium"). Idempotent and quiet; run as root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null

/usr/bin/chromium --version
