#!/usr/bin/env bash
# A throw-away search engine for the Elasticsearch backend's tests and benchmark.
#
# usage: scripts/opensearch.sh start|stop|status
#   start   start the OpenSearch 2.4.1 test node of ../shared/opensearch (serve.sh) on a free port
#           with a temporary home; print its URL (what the elasticsearch 8 client connects to) and
#           write it to $STATE/url and, as "export KB_TEST_ES_URL=...", to $STATE/env.
#           Exit status: 0 running, 3 not available here (no serve.sh or no java: skip), 1 failed.
#   stop    kill the node and its proxy started by `start`, remove the temporary home.
#   status  print the URL and PIDs of the running node (exit 1 when none).
#
# environment: OPENSEARCH_SERVE  path to serve.sh (default: <repo>/../shared/opensearch/serve.sh)
#              OPENSEARCH_STATE  state folder (default: $JSB_DATA_DIR/opensearch or <repo>/var/opensearch)
#              OPENSEARCH_HEAP   JVM heap (default 512m)
#
# typical use around a test run:
#   if scripts/opensearch.sh start >/dev/null; then . var/opensearch/env; trap 'scripts/opensearch.sh stop' EXIT; fi
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SERVE=${OPENSEARCH_SERVE:-$REPO/../shared/opensearch/serve.sh}
STATE=${OPENSEARCH_STATE:-${JSB_DATA_DIR:-$REPO/var}/opensearch}
HEAP=${OPENSEARCH_HEAP:-512m}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

read_state() {  # sets OS_PID PROXY_PID HOME_DIR URL from $STATE/pids, or fails
    [ -f "$STATE/pids" ] || return 1
    read -r OS_PID PROXY_PID HOME_DIR URL <"$STATE/pids"
}

# A port P such that P (client), P+1 (raw REST) and P+101 (transport) are all free on 127.0.0.1.
free_port() {
    python3 - <<'EOF'
import random
import socket

for _ in range(200):
    port = random.randint(20000, 40000)
    try:
        for p in (port, port + 1, port + 101):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("no free port found")
EOF
}

start() {
    if read_state && alive "$OS_PID" && alive "$PROXY_PID"; then
        echo "$URL"
        return 0
    fi
    if [ ! -x "$SERVE" ]; then
        echo "opensearch: $SERVE not found; the Elasticsearch backend tests will be skipped" >&2
        return 3
    fi
    if ! command -v java >/dev/null 2>&1; then
        echo "opensearch: no java on PATH; the Elasticsearch backend tests will be skipped" >&2
        return 3
    fi
    mkdir -p "$STATE"
    local port home pids
    port=$(free_port)
    home=$(mktemp -d "${TMPDIR:-/tmp}/jsb-opensearch.XXXXXX")
    echo "opensearch: starting a node on 127.0.0.1:$port (home $home, about 10 s)" >&2
    if ! pids=$("$SERVE" "$home" "$port" "$HEAP"); then
        echo "opensearch: the node did not start; its log: $home/stdout.log" >&2
        return 1
    fi
    URL="http://127.0.0.1:$port"
    echo "$pids $home $URL" >"$STATE/pids"
    echo "$URL" >"$STATE/url"
    echo "export KB_TEST_ES_URL=$URL" >"$STATE/env"
    echo "$URL"
}

stop() {
    if ! read_state; then
        echo "opensearch: no node started by this script" >&2
        return 0
    fi
    kill "$OS_PID" "$PROXY_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do  # the JVM shuts down cleanly within a few seconds
        alive "$OS_PID" || alive "$PROXY_PID" || break
        sleep 0.5
    done
    kill -9 "$OS_PID" "$PROXY_PID" 2>/dev/null || true
    case "$HOME_DIR" in */jsb-opensearch.*) rm -rf "$HOME_DIR" ;; esac
    rm -f "$STATE/pids" "$STATE/url" "$STATE/env"
    echo "opensearch: stopped $URL" >&2
}

status() {
    if read_state && alive "$OS_PID"; then
        echo "$URL (opensearch pid $OS_PID, proxy pid $PROXY_PID, home $HOME_DIR)"
    else
        echo "opensearch: not running" >&2
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
