"""bot/gc_freeze.py: a loaded model is frozen out of the collector's walks, and a model swapped
out stays collectable (no model leaks across swaps)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import gc_freeze


class Model:
    """Stands for a model's objects: a reference cycle, freed only by the cyclic collector."""

    def __init__(self) -> None:
        self.me = self


class Agent:
    def __init__(self) -> None:
        self.model: Model | None = None

    def load_model(self) -> None:
        self.model = Model()


@pytest.fixture(autouse=True)
def clean_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(gc_freeze, "SETTLE_S", 0.01)
    gc_freeze._LOADED.clear()
    yield
    gc_freeze._LOADED.clear()
    gc.unfreeze()


def load(agent: Agent) -> None:
    gc_freeze.before_load()
    agent.load_model()
    gc_freeze.after_load(agent)


def test_a_first_model_is_frozen_at_once():
    agent = Agent()
    load(agent)
    assert gc.get_freeze_count() > 0
    assert not any(o is agent.model for o in gc.get_objects())  # frozen: not walked any more


def test_a_swap_freezes_again_only_once_the_old_model_is_gone():
    async def swap() -> weakref.ref[Model]:
        served = Agent()
        load(served)
        assert served.model is not None
        old_model = weakref.ref(served.model)
        new = Agent()
        load(new)  # the old agent still serves while the new model loads
        assert gc.get_freeze_count() == 0  # unfrozen: the old model must stay collectable
        del served  # the server now answers with the new agent
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gc.get_freeze_count():
                break
        assert gc.get_freeze_count() > 0
        return old_model

    old_model = asyncio.run(swap())
    gc.collect()
    assert old_model() is None  # the swapped-out model's cycle was freed, not frozen


def test_install_wraps_rasas_load_model_once(monkeypatch: pytest.MonkeyPatch):
    from rasa.core.agent import Agent as RasaAgent

    calls: list[str] = []

    def original(self: object, *args: object, **kwargs: object) -> None:
        calls.append("load")

    monkeypatch.setattr(RasaAgent, "load_model", original)
    gc_freeze.install()
    gc_freeze.install()
    agent = RasaAgent()
    agent.load_model("model.tar.gz")
    assert calls == ["load"]
    assert agent in gc_freeze._LOADED and gc.get_freeze_count() > 0
