"""bot.rasa_tracker_store: Rasa's SQL tracker store on SQLite in WAL mode keeps every event of a
conversation across saves and across two store objects on one file (two Rasa workers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_tracker_store import SQLiteTrackerStore

DOMAIN = Domain.from_dict({"slots": {"service_id": {"type": "text", "mappings": [{"type": "custom"}]}}})


async def test_events_survive_saves_and_a_second_worker(tmp_path: Path) -> None:
    path = tmp_path / "tracker.sqlite3"
    first = SQLiteTrackerStore(domain=DOMAIN, db=str(path))
    tracker = DialogueStateTracker("c1", DOMAIN.slots)
    tracker.update(UserUttered("社保卡丢了咋补办"))
    tracker.update(SlotSet("service_id", "guide.social-security-card"))
    tracker.update(ActionExecuted("action_listen"))
    await first.save(tracker)
    tracker.update(UserUttered("那要多少钱"))
    await first.save(tracker)

    second = SQLiteTrackerStore(domain=DOMAIN, db=str(path))  # another worker, same file
    again = await second.retrieve("c1")
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["社保卡丢了咋补办", "那要多少钱"]
    assert again.get_slot("service_id") == "guide.social-security-card"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rasa_builds_it_from_endpoints_yml(tmp_path: Path) -> None:
    config = EndpointConfig(type="bot.rasa_tracker_store.SQLiteTrackerStore", db=str(tmp_path / "t.sqlite3"))
    store = TrackerStore.create(config, DOMAIN)
    assert "SQLiteTrackerStore" in repr(type(getattr(store, "_tracker_store", store)))


async def test_a_stored_message_drops_its_sentence_vector_only(tmp_path: Path) -> None:
    """The NLU's vector goes to the action server in the turn that made it; stored events keep the
    rest of the parse data (intent, entities, text) as Rasa would."""
    store = SQLiteTrackerStore(domain=DOMAIN, db=str(tmp_path / "tracker.sqlite3"))
    tracker = DialogueStateTracker("c2", DOMAIN.slots)
    parse_data = {
        "intent": {"name": "ask_fee", "confidence": 0.9},
        "entities": [{"entity": "service", "value": "社保卡"}],
        "text": "社保卡补办要钱不",
        "question_vector": {"text": "社保卡补办要钱不", "vector": "AAAA" * 192},
    }
    tracker.update(UserUttered("社保卡补办要钱不", intent=parse_data["intent"], parse_data=parse_data))
    assert "question_vector" in tracker.latest_message.parse_data  # in memory for this turn
    await store.save(tracker)

    again = await store.retrieve("c2")
    assert again is not None
    stored = again.latest_message.parse_data
    assert "question_vector" not in stored
    assert stored["intent"]["name"] == "ask_fee" and stored["entities"] == parse_data["entities"]
    assert "question_vector" in tracker.latest_message.parse_data  # the live tracker is not changed
    with sqlite3.connect(tmp_path / "tracker.sqlite3") as db:
        assert db.execute("SELECT intent_name FROM events WHERE type_name = 'user'").fetchone()[0] == "ask_fee"
