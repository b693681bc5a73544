"""Keep a loaded Rasa model out of the garbage collector's walks (`gc.freeze`), also across swaps.

Why: CPython's cyclic collector walks every tracked object of the oldest generation on each full
collection, and a Rasa process holds ~230,000 of them once its model is loaded (the pipeline's
vocabularies, the policies' lookup tables, Rasa's own modules).  A turn allocates enough (the
tracker's events decoded from JSON, the action server's reply) to set off collections: in one
Rasa process the collector took ~6 ms of CPU per turn, ~1.3 ms with the loaded model frozen
(in-process A/B, docs/turn-cost.md).  Frozen objects are still freed by reference counting; only
the cycle search skips them.

A swap (bot/retrain.py's `PUT /model`) loads a new model while the old one still serves: before
it loads, everything is unfrozen (the old model must be collectable once dropped), and the freeze
is taken again when only one loaded agent is left (checked every SETTLE_S seconds on the event
loop, at most SETTLE_TRIES times, then frozen anyway).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from typing import Any

log = logging.getLogger(__name__)

SETTLE_S = 1.0
SETTLE_TRIES = 120
_LOADED: weakref.WeakSet[Any] = weakref.WeakSet()  # agents that loaded a model and are still alive


def before_load() -> None:
    """Before a model loads: what was frozen (an older model) becomes collectable again."""
    gc.unfreeze()


def after_load(agent: Any) -> None:
    """After `agent` loaded its model: freeze now, or once the agent it replaces is gone."""
    _LOADED.add(agent)
    _settle(SETTLE_TRIES)


def _settle(tries: int) -> None:
    gc.collect()  # garbage left by loading is not frozen with the rest
    if len(_LOADED) <= 1 or tries <= 0:
        gc.freeze()
        log.debug("gc.frozen objects=%d", gc.get_freeze_count())
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop (a script): the caller drops the old agent itself
        gc.freeze()
        return
    loop.call_later(SETTLE_S, _settle, tries - 1)


def install() -> None:
    """Wrap Rasa's Agent.load_model (used at start and by the HTTP API's model swap)."""
    from rasa.core.agent import Agent

    original = Agent.load_model
    if getattr(original, "freezes_gc", False):
        return

    def load_model(self: Agent, *args: Any, **kwargs: Any) -> None:
        before_load()
        original(self, *args, **kwargs)
        after_load(self)

    load_model.freezes_gc = True  # type: ignore[attr-defined]
    Agent.load_model = load_model  # type: ignore[method-assign]
