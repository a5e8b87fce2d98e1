#!/usr/bin/env bash
# Headless Chromium for the status page's browser test (Debian's chromium package).
# Idempotent: prints the browser's path; installs it with apt-get when missing.
set -euo pipefail
for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        echo "$candidate"
        exit 0
    fi
done
if ! command -v apt-get >/dev/null; then
    echo "chromium is missing and apt-get is not available: install Chromium and set CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing chromium with apt-get (once) ..." >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
    || { $SUDO apt-get update -q >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
echo /usr/bin/chromium
