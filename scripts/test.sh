#!/usr/bin/env bash
# Every test suite, the way CI runs it (`make test` / .ci/run).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== lint (ruff)"
$PY -m ruff check .
$PY -m ruff format --check .

echo "== knowledge-base data files"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
$PY -m knowledge_base load --db "$scratch/kb.sqlite3"

echo "== pytest"
set +e
$PY -m pytest "$@"
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
exit $status
