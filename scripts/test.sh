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

echo "== Rasa training data"
generated=$scratch/nlu_generated
$PY -m knowledge_base.nlu_lookups "$generated"
$PY -m rasa data validate --fail-on-warnings --config config.yml --domain domain.yml --data nlu_data "$generated"

scripts/ensure_chromium.sh
scripts/ensure_engines.sh  # PostgreSQL, Redis, haproxy for tests/scale (docs/deployment.md)

# A real search engine for the Elasticsearch backend's tests, when the shared OpenSearch is here
# (otherwise those tests skip and say why).  KB_TEST_ES_URL set by the caller wins.
if [ -z "${KB_TEST_ES_URL:-}" ]; then
    export OPENSEARCH_STATE=$scratch/opensearch
    if scripts/opensearch.sh start >/dev/null; then
        . "$OPENSEARCH_STATE/env"
        trap 'scripts/opensearch.sh stop; rm -rf "$scratch"' EXIT
        echo "OpenSearch test node at $KB_TEST_ES_URL"
    fi
fi

echo "== pytest"
set +e
$PY -m pytest "$@"
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
exit $status
