"""One measurement in a fresh process (so memory and load time are its own).

    python -m bench.nlu.worker train  CONFIG DATA_DIR MODEL_DIR RESULT_JSON
    python -m bench.nlu.worker serve  MODEL_TAR TEST_YML RESULT_JSON

`train` trains an NLU model with rasa.model_training.train_nlu; `serve` loads it with Rasa's
Agent, parses every test message one by one and records the answers and the latencies.  The
caller sets RASA_CACHE_DIRECTORY to an empty directory so nothing comes from Rasa's cache.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def train(config: str, data_dir: str, model_dir: str, result: str) -> None:
    started = time.perf_counter()
    from rasa.model_training import train_nlu

    imported = time.perf_counter()
    model = train_nlu(config=config, nlu_data=data_dir, output=model_dir, fixed_model_name="nlu")
    done = time.perf_counter()
    if not model:
        raise SystemExit("training produced no model")
    Path(result).write_text(
        json.dumps(
            {
                "model": str(model),
                "import_s": imported - started,
                "train_s": done - imported,
                "train_peak_mb": _peak_mb(),
            }
        )
    )


async def _serve(model: str, test_yml: str) -> dict:
    started = time.perf_counter()
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    imported = time.perf_counter()
    agent = Agent.load(model)
    loaded = time.perf_counter()
    examples = [m for m in load_data(test_yml).intent_examples]
    answers, latencies = [], []
    for message in examples:
        t0 = time.perf_counter()
        parsed = await agent.parse_message(message.get("text"))
        latencies.append((time.perf_counter() - t0) * 1000)
        answers.append(
            {
                "text": message.get("text"),
                "intent": message.get("intent"),
                "predicted": (parsed.get("intent") or {}).get("name"),
                "confidence": (parsed.get("intent") or {}).get("confidence"),
                "entities": [
                    {"entity": e["entity"], "value": e.get("value"), "start": e["start"], "end": e["end"]}
                    for e in message.get("entities") or []
                ],
                "predicted_entities": [
                    {"entity": e["entity"], "value": e.get("value"), "start": e["start"], "end": e["end"]}
                    for e in parsed.get("entities") or []
                ],
            }
        )
    return {
        "import_s": imported - started,
        "load_s": loaded - imported,
        "latencies_ms": latencies,
        "serve_peak_mb": _peak_mb(),
        "answers": answers,
    }


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    if argv[:1] == ["train"] and len(argv) == 5:
        train(*argv[1:])
    elif argv[:1] == ["serve"] and len(argv) == 4:
        out = asyncio.run(_serve(argv[1], argv[2]))
        Path(argv[3]).write_text(json.dumps(out, ensure_ascii=False))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
