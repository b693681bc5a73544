"""Running the custom actions the way the Rasa server does, without the servers: a real
`rasa_sdk.Tracker` per turn, a `CollectingDispatcher`, and the returned events applied to the
conversation's slots and event list (so the next turn sees what the last one set)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge
from knowledge_base import KnowledgeBase
from knowledge_base.models import Guide

REPO = Path(__file__).resolve().parent.parent
DOMAIN: dict[str, Any] = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def store(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The action server's knowledge base is a private copy of the curated data (tests/conftest.py
    offers it; the action test modules use it for every test through `pytestmark`)."""
    monkeypatch.setenv("KB_DB", str(kb.store.path))
    monkeypatch.setenv("KB_BACKEND", "embedded")
    knowledge.reset()
    yield kb
    knowledge.reset()


def guide(kb: KnowledgeBase, guide_id: str) -> Guide:
    entry = kb.get(guide_id)
    assert isinstance(entry, Guide), guide_id
    return entry


def initial_slots() -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}


@dataclass
class Reply:
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.messages if m.get("text"))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for m in self.messages for b in m.get("buttons") or []]

    @property
    def button_titles(self) -> list[str]:
        return [b["title"] for b in self.buttons]

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [m["custom"] for m in self.messages if m.get("custom") and m["custom"].get("type") == kind]

    def payload(self, kind: str) -> dict[str, Any]:
        found = self.payloads(kind)
        assert len(found) == 1, f"expected one {kind} payload, got {found} in {self.messages}"
        return found[0]

    def slot(self, name: str) -> Any:
        """The value this reply set the slot to (KeyError when it did not set it)."""
        values = [e["value"] for e in self.events if e.get("event") == "slot" and e.get("name") == name]
        if not values:
            raise KeyError(name)
        return values[-1]


def entity(name: str, value: str, text: str | None = None) -> dict[str, Any]:
    """An entity as the NLU reports it; with `text`, the span of `value` in it."""
    found: dict[str, Any] = {"entity": name, "value": value}
    if text is not None and value in text:
        found["start"] = text.index(value)
        found["end"] = found["start"] + len(value)
    return found


def button_intent(payload: str) -> tuple[str, dict[str, Any]]:
    """'/choose_entry{"entry_id":"x"}' -> ('choose_entry', {'entry_id': 'x'})."""
    assert payload.startswith("/"), payload
    name, _, rest = payload[1:].partition("{")
    return name, (json.loads("{" + rest) if rest else {})


@dataclass
class Conversation:
    sender: str = "citizen-1"
    slots: dict[str, Any] = field(default_factory=initial_slots)
    events: list[dict[str, Any]] = field(default_factory=list)
    active_loop: dict[str, Any] = field(default_factory=dict)

    def tracker(self, latest: dict[str, Any]) -> Tracker:
        return Tracker(self.sender, dict(self.slots), latest, list(self.events), False, None, self.active_loop, None)

    async def say(
        self,
        action: Action,
        text: str,
        intent: str,
        entities: list[dict[str, Any]] | None = None,
        confidence: float = 0.99,
    ) -> Reply:
        """The citizen says `text` (NLU result: intent with `confidence` + entities), then `action` runs."""
        latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
        self.events.append({"event": "user", "text": text, "parse_data": latest})
        return await self.run(action, latest)

    async def press(self, action: Action, payload: str) -> Reply:
        """The citizen presses a button: its payload is the message, intent and entities in it."""
        intent, values = button_intent(payload)
        entities = [{"entity": k, "value": v} for k, v in values.items()]
        return await self.say(action, payload, intent, entities)

    async def run(self, action: Action, latest: dict[str, Any] | None = None) -> Reply:
        latest = latest if latest is not None else (self.events[-1].get("parse_data") if self.events else {}) or {}
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(latest), DOMAIN)
        self.events.append({"event": "action", "name": action.name()})
        for event in events:
            self.events.append(event)
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        return Reply(dispatcher.messages, events)
