#!/usr/bin/env bash
# Train the Rasa model when the training data, config, domain or the KB vocabulary changed.
# Rasa fingerprints its inputs and skips training when nothing changed, so this is cheap to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export RASA_TELEMETRY_ENABLED=false  # no usage data or error reports leave the machine
OUT=${RASA_MODELS_DIR:-models}
GENERATED=${JSB_DATA_DIR:-var}/nlu_generated

# Service names and places come from the knowledge base: regenerate the lookup tables first.
rm -rf "$GENERATED"
$PY -m knowledge_base.nlu_lookups "$GENERATED" ${KB_DB:+--db "$KB_DB"}

echo "train: training the assistant into $OUT (skipped by Rasa when nothing changed)"
$PY -m rasa train --config config.yml --domain domain.yml --data nlu_data "$GENERATED" \
    --out "$OUT" --fixed-model-name jishiban "$@"
