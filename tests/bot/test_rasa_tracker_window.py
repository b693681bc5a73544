"""bot.rasa_tracker_store: a long session is loaded as its last turns after the state they start
from.  What Rasa decides from (slots, the active form, pause, the last turns' states for the
policies) is the same as with the whole session; what a turn adds is stored once, in order; the
number of events loaded no longer grows with the conversation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_tracker_store import SQLiteTrackerStore

REPO = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(REPO / "domain.yml"))
TURNS = 4


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SQLiteTrackerStore:
    monkeypatch.setenv("RASA_TRACKER_TURNS", str(TURNS))
    return SQLiteTrackerStore(domain=DOMAIN, db=str(tmp_path / "tracker.sqlite3"))


def turn(number: int, *extra: Event) -> list[Event]:
    """One turn as Rasa records it: the message, the answer with its slots, listening again."""
    text = f"第{number}个问题：社保卡咋补办"
    return [
        UserUttered(text, intent={"name": "ask_service", "confidence": 0.9}, message_id=f"jsb-{number}"),
        ActionExecuted("action_answer"),
        BotUttered(f"答复{number}"),
        SlotSet("fallback_streak", 0),
        SlotSet("pending_offer", None),
        *extra,
        ActionExecuted("action_listen"),
    ]


async def record(store: SQLiteTrackerStore, sender: str, turns: list[list[Event]]) -> None:
    """Each turn as the processor does it: retrieve (or start), add the turn, save."""
    for events in turns:
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = DialogueStateTracker(sender, DOMAIN.slots)
            for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
                tracker.update(event, DOMAIN)
        for event in events:
            event.timestamp = time.time()  # made before the session start; recorded now, as Rasa would
            tracker.update(event, DOMAIN)
        await store.save(tracker)


async def whole_session(store: SQLiteTrackerStore, sender: str) -> DialogueStateTracker | None:
    """The session as Rasa's own SQL store loads it: every event since the session started."""
    return await SQLTrackerStore.retrieve(store, sender)


def same_state(part: DialogueStateTracker, whole: DialogueStateTracker) -> None:
    assert part.current_slot_values() == whole.current_slot_values()
    assert part.active_loop_name == whole.active_loop_name
    assert part.is_paused() == whole.is_paused()
    assert part.latest_message.text == whole.latest_message.text
    assert part.latest_action_name == whole.latest_action_name
    # The policies' view: the states of the window's turns are the states of the same turns.
    kept = len(part.past_states(DOMAIN)) - 1
    assert part.past_states(DOMAIN)[-kept:] == whole.past_states(DOMAIN)[-kept:]


async def test_a_long_session_is_loaded_as_its_last_turns_with_the_same_state(store: SQLiteTrackerStore) -> None:
    turns = [
        turn(1, SlotSet("service_id", "guide.social-security-card"), SlotSet("recent_services", ["a", "b"])),
        turn(2, ActiveLoop("center_form"), SlotSet("requested_slot", "place")),
        turn(3, SlotSet("walkthrough_id", "guide.x"), SlotSet("walkthrough_step", 2.0)),
        turn(4, ConversationPaused(), SlotSet("handoff_active", True)),
        turn(5, SlotSet("walkthrough_step", None)),  # set, then back to empty
        turn(6, ConversationResumed()),
        *(turn(n) for n in range(7, 30)),
    ]
    await record(store, "c1", turns)

    part = await store.retrieve("c1")
    whole = await whole_session(store, "c1")
    assert part is not None and whole is not None
    same_state(part, whole)
    assert part.get_slot("service_id") == "guide.social-security-card"
    assert part.get_slot("recent_services") == ["a", "b"]
    assert part.active_loop_name == "center_form" and part.get_slot("requested_slot") == "place"
    assert part.get_slot("walkthrough_step") is None and part.get_slot("walkthrough_id") == "guide.x"
    assert not part.is_paused() and part.get_slot("handoff_active") is True
    users = [e.text for e in part.events if isinstance(e, UserUttered)]
    assert users == [f"第{n}个问题：社保卡咋补办" for n in range(26, 30)]  # the last TURNS turns
    assert len(part.events) < len(whole.events) / 3


async def test_the_events_loaded_do_not_grow_with_the_conversation(store: SQLiteTrackerStore) -> None:
    await record(store, "c2", [turn(n) for n in range(1, 11)])
    early = await store.retrieve("c2")
    await record(store, "c2", [turn(n) for n in range(11, 61)])
    late = await store.retrieve("c2")
    assert early is not None and late is not None
    assert len(late.events) == len(early.events)


async def test_a_turn_on_a_partly_loaded_tracker_is_stored_once_in_order(store: SQLiteTrackerStore) -> None:
    await record(store, "c3", [turn(n) for n in range(1, 21)])
    await record(store, "c3", [turn(21, SlotSet("service_id", "guide.new"))])
    whole = await whole_session(store, "c3")
    assert whole is not None
    users = [e.text for e in whole.events if isinstance(e, UserUttered)]
    assert users == [f"第{n}个问题：社保卡咋补办" for n in range(1, 22)]
    expected = 2 + sum(len(t) for t in [turn(n) for n in range(1, 21)]) + len(turn(21, SlotSet("service_id", "x")))
    assert len(whole.events) == expected
    assert whole.get_slot("service_id") == "guide.new"
    # The slot reset by AllSlotsReset before the window stays reset.
    await record(store, "c3", [turn(22, AllSlotsReset()), *(turn(n) for n in range(23, 30))])
    part = await store.retrieve("c3")
    assert part is not None and part.get_slot("service_id") is None


async def test_a_session_with_an_undone_action_before_the_window_is_loaded_whole(store: SQLiteTrackerStore) -> None:
    await record(store, "c4", [turn(1, SlotSet("service_id", "guide.undone"), ActionReverted())])
    await record(store, "c4", [turn(n) for n in range(2, 12)])
    part = await store.retrieve("c4")
    whole = await whole_session(store, "c4")
    assert part is not None and whole is not None
    assert len(part.events) == len(whole.events)
    same_state(part, whole)


async def test_only_the_current_session_is_read(store: SQLiteTrackerStore) -> None:
    await record(store, "c5", [turn(n, SlotSet("service_id", "guide.old")) for n in range(1, 10)])
    tracker = await store.retrieve("c5")
    assert tracker is not None
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event, DOMAIN)
    await store.save(tracker)
    await record(store, "c5", [turn(n) for n in range(10, 20)])
    part = await store.retrieve("c5")
    assert part is not None
    assert part.get_slot("service_id") is None  # not carried over by this session start
    assert next(e.text for e in part.events if isinstance(e, UserUttered)) == "第16个问题：社保卡咋补办"


async def test_turns_setting_zero_loads_the_whole_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TRACKER_TURNS", "0")
    store = SQLiteTrackerStore(domain=DOMAIN, db=str(tmp_path / "t.sqlite3"))
    await record(store, "c6", [turn(n) for n in range(1, 12)])
    part = await store.retrieve("c6")
    assert part is not None
    assert len([e for e in part.events if isinstance(e, UserUttered)]) == 11


async def test_a_retried_message_is_still_found_in_a_long_session(store: SQLiteTrackerStore) -> None:
    """bot/rasa_channel.py answers a retry from the loaded tracker: the last turn is in the window."""
    from bot.rasa_channel import replayed_replies

    await record(store, "c7", [turn(n) for n in range(1, 31)])
    part = await store.retrieve("c7")
    assert part is not None
    assert [reply["text"] for reply in replayed_replies(list(part.events), "jsb-30") or []] == ["答复30"]
