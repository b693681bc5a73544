#!/usr/bin/env bash
# Start the assistant with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m knowledge_base load
echo
echo "The knowledge base is loaded. Ask it like a citizen would, e.g.:"
echo "  $PY -m knowledge_base search 办营业执照要带什么材料"
