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

# Rasa's own "nothing changed" check imports its whole training stack (TensorFlow among it):
# about 20 s before every start.  A digest of everything the model is made from (the inputs
# Rasa fingerprints, plus our NLU components' code, the tokenizer's lexicon and the locked
# package versions) skips it; any difference, or no model, goes to Rasa as before.
STAMP="$OUT/jishiban.inputs.sha256"
inputs_digest() {
    {
        sha256sum config.yml domain.yml requirements.lock knowledge_base/nlu_*.py
        find nlu_data knowledge_base/lexicon -type f -print0 | sort -z | xargs -0 sha256sum
        (cd "$GENERATED" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
        echo "args: $*"
    } | sha256sum | cut -d' ' -f1
}
DIGEST=$(inputs_digest "$@")
if [ -f "$OUT/jishiban.tar.gz" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$DIGEST" ]; then
    echo "train: nothing changed since $OUT/jishiban.tar.gz was trained"
    exit 0
fi

echo "train: training the assistant into $OUT (skipped by Rasa when nothing changed)"
rm -f "$STAMP"
$PY -m bot.shared.training "$GENERATED" "$OUT" "$@"  # the one training command (bot/shared/training.py)
echo "$DIGEST" > "$STAMP"
