# 济时办 guidance assistant. `make` alone lists the targets.
SHELL := /bin/bash
PY := .venv/bin/python

.DEFAULT_GOAL := help
.PHONY: help setup run test lint kb-load lock bench-retrieval bench-nlu bench-backends bench-bot bench-helpdesk bench-dialogue bench-load bench-analytics bench-scale

help:  ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup:  ## make .venv (Python 3.10) from requirements.lock; nothing to do when it is up to date
	@scripts/setup.sh

run: setup  ## set up, load the knowledge base and start the assistant
	@scripts/run.sh

test: setup  ## run every test suite (lint, data validation, pytest incl. browser tests)
	@scripts/test.sh

lint: setup  ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

kb-load: setup  ## load knowledge_base/data/*.yml into the store
	$(PY) -m knowledge_base load

lock:  ## re-resolve requirements.in into requirements.lock (then run make setup)
	.venv/bin/uv pip compile --python-version 3.10 requirements.in -o requirements.lock

bench-retrieval: setup  ## retrieval quality and latency report -> bench/retrieval/REPORT.md
	$(PY) -m bench.retrieval

bench-nlu: setup  ## NLU pipeline comparison (SMP2019 + government intents) -> bench/nlu/REPORT.md
	$(PY) -m bench.nlu

bench-backends: setup  ## embedded vs Elasticsearch search -> bench/search_backends/REPORT.md
	$(PY) -m bench.search_backends

bench-bot: setup  ## bot-service overhead and websocket memory -> bench/bot/REPORT.md
	$(PY) -m bench.bot

bench-helpdesk: setup  ## citizen-to-helper latency under 50 handoffs -> bench/helpdesk/REPORT.md
	$(PY) -m bench.helpdesk

bench-analytics: setup  ## analytics page cost on 1 M stored messages -> bench/analytics/REPORT.md
	$(PY) -m bench.analytics

bench-dialogue: setup  ## multi-turn conversations against the real stack (dev + test) -> bench/dialogue/REPORT.md
	$(PY) -m bench.dialogue --split all --report
bench-load: setup  ## whole stack under 1/8/16/32 citizens (REST + widget) vs plain Rasa -> bench/load/REPORT.md
	$(PY) -m bench.load

bench-scale: setup  ## lock and tracker per turn, SQLite vs Redis/PostgreSQL; capacity model -> bench/scale/REPORT.md
	$(PY) -m bench.scale
