#!/usr/bin/env bash
# The engines of a scaled-out deployment, for tests/scale (docs/deployment.md): PostgreSQL 15,
# Redis 7 and haproxy from Debian's packages.  Installs what is missing when we may (root), as
# ensure_chromium.sh does for the browser tests; otherwise says how.  Never starts a service: the
# tests start their own servers on free ports in temp folders (tests/scale/engines.py).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's ${missing[*]} for the scale-out tests"
    apt-get update -qq
    # policy-rc.d keeps the packages' own services from starting (the tests start their own).
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && trap 'rm -f "$policy"' EXIT; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "setup: scale-out tests need ${missing[*]}: run 'sudo apt-get install ${missing[*]}' (they are skipped without)" >&2
fi
