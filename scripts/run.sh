#!/usr/bin/env bash
# Start the whole assistant with embedded defaults: load the knowledge base, train if anything
# changed, then run the action server, Rasa and the bot service under scripts/supervise.py: a
# process that crashes is restarted with backoff while the others keep serving (Ctrl-C stops all).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

export JSB_DATA_DIR=${JSB_DATA_DIR:-$PWD/var}
export KB_DB=${KB_DB:-$JSB_DATA_DIR/kb.sqlite3}
export RASA_MODELS_DIR=${RASA_MODELS_DIR:-$PWD/models}
export RASA_PORT=${RASA_PORT:-5005} ACTION_PORT=${ACTION_PORT:-5055} BOT_PORT=${BOT_PORT:-8080}
# RASA_INSTANCES Rasa processes on RASA_PORT, RASA_PORT+1, ... (one worker each, sharing the tracker
# and lock stores below); the bot service sends each conversation to one and fails over to another
# while one is down or restarting (bot/rasa_client.py).  Two use both cores, as two workers did.
export RASA_INSTANCES=${RASA_INSTANCES:-2}
if [ -z "${RASA_URL:-}" ]; then
    RASA_URL=$(for ((n = 0; n < RASA_INSTANCES; n++)); do printf 'http://127.0.0.1:%s,' $((RASA_PORT + n)); done)
    export RASA_URL=${RASA_URL%,}
fi
export ACTION_URL=${ACTION_URL:-http://127.0.0.1:$ACTION_PORT}  # lets the bot tell an action-server outage apart
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://127.0.0.1:$ACTION_PORT/webhook}
# Rasa's conversations and lock: SQLite files here, unless RASA_TRACKER_URL (PostgreSQL) and/or
# RASA_LOCK_REDIS_URL (Redis) are set for instances on several hosts (docs/deployment.md).
export RASA_TRACKER_DB=${RASA_TRACKER_DB:-$JSB_DATA_DIR/rasa_tracker.sqlite3}
export RASA_LOCK_DB=${RASA_LOCK_DB:-$JSB_DATA_DIR/rasa_locks.sqlite3}
# One Sanic worker per Rasa process (the instances above are the parallelism; the lock keeps each
# conversation's order across them).  The action server has one (rasa_sdk reads ACTION_SERVER_SANIC_WORKERS).
export SANIC_WORKERS=${SANIC_WORKERS:-1}
export RASA_TELEMETRY_ENABLED=false PYTHONUNBUFFERED=1
# One OpenMP thread in every server (scripts/rasa_server.py says why); batch commands such as
# `knowledge_base load` choose their own (KB_ENCODE_THREADS); background encoding of entry vectors
# runs KB_ENCODE_WORKERS threads (default: one per core) of one OpenMP thread each.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Rasa's HTTP API (tracker, model swap) and its REST channel listen on loopback only and need this
# token; the bot service sends it.  A new random one each start unless set (or RASA_TOKEN_FILE).
# It reaches Rasa through the environment, never the command line (`ps` shows that to everyone).
if [ -z "${RASA_TOKEN:-}" ]; then
    if [ -n "${RASA_TOKEN_FILE:-}" ]; then RASA_TOKEN=$(<"$RASA_TOKEN_FILE"); else
        RASA_TOKEN=$($PY -c 'import secrets; print(secrets.token_hex(24))'); fi
    export RASA_TOKEN
fi
# The action server (loopback, ACTION_HOST) answers only Rasa, which sends this secret in a header
# (endpoints.yml).
export ACTION_SECRET=${ACTION_SECRET:-$($PY -c 'import secrets; print(secrets.token_hex(24))')}
# Publishing a new service name in the KB console retrains and swaps the model (bot/retrain.py);
# the new model is also copied to RASA_MODELS_DIR so a restart keeps it.
export BOT_RETRAIN=${BOT_RETRAIN:-on} BOT_RETRAIN_MODELS_DIR=${BOT_RETRAIN_MODELS_DIR:-$RASA_MODELS_DIR}
mkdir -p "$JSB_DATA_DIR"
# Every line of every step and server goes to this file; the terminal gets the readable ones (no
# third-party warnings, no start-up chatter, progress bars only on a terminal: scripts/console.py).
LOG=$JSB_DATA_DIR/run.log
[ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"  # the previous run's, for comparison
step() { $PY scripts/supervise.py --log "$LOG" --once "$1"; }
echo "== knowledge base (full output: $LOG)"
# Entries only: the bot service encodes missing sentence vectors in the background once it runs
# (on every core, progress on the import page; lexical search for those entries meanwhile).
step "kb=$PY -m knowledge_base load --vectors-later"
echo "== model"
step "train=scripts/train.sh"
# Byte-compile the project once per change: a restarted process then loads .pyc files instead of
# compiling every module again (PYTHONDONTWRITEBYTECODE, if set, stops Python caching them itself).
$PY -m compileall -q actions bot connectors knowledge_base scripts >/dev/null
echo "== starting: action server :$ACTION_PORT, Rasa :$RASA_URL, bot service :$BOT_PORT"
exec $PY scripts/supervise.py --log "$LOG" -f Procfile --scale rasa="$RASA_INSTANCES"
