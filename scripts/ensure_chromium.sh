#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (test tools that download their own browser fail here).
# Installs it when missing and we may (root); otherwise says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "setup: browser tests need Chromium: run 'sudo apt-get install chromium' (they are skipped without it)" >&2
fi
