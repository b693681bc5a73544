"""actions/unchanged_slots.py: an action's reply leaves out the slot events that change nothing,
through rasa_sdk's real executor, and keeps what later turns read from the events."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SessionStarted, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions import slots, turns
from actions.unchanged_slots import changes_only, install

HELD = {slots.SERVICE_ID: "guide.a", slots.PENDING_CHOICES: None, slots.RECENT_SERVICES: ["guide.a"]}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


def test_only_changes_are_kept():
    events = [
        slot(slots.SERVICE_ID, "guide.a"),  # held
        slot(slots.PENDING_CHOICES, None),  # held (empty)
        slot(slots.RECENT_SERVICES, ["guide.b", "guide.a"]),  # changed
        slot(slots.CURRENT_ELEMENT, "fee"),  # not in the tracker's slots: kept
        {"event": "bot", "text": "好的"},
    ]
    assert changes_only(events, HELD) == [events[2], events[3], events[4]]


def test_a_value_set_earlier_in_the_same_reply_counts():
    there, back, again = (
        slot(slots.SERVICE_ID, "guide.b"),
        slot(slots.SERVICE_ID, "guide.a"),
        slot(slots.SERVICE_ID, "guide.a"),
    )
    assert changes_only([there, back, again], HELD) == [there, back]


def test_the_fallback_streak_is_always_recorded():
    streak = slot(slots.FALLBACK_STREAK, 1)
    assert changes_only([streak], {slots.FALLBACK_STREAK: 1}) == [streak]


def test_after_a_reset_every_slot_event_is_kept():
    session = {"event": "session_started", "timestamp": None}
    carried = slot(slots.SERVICE_ID, "guide.a")
    assert changes_only([session, carried], HELD) == [session, carried]


def test_the_streak_of_the_previous_turn_still_reads_from_the_events():
    """turns.previous_fallback_streak reads the streak a turn ended with from its events: a turn
    that kept the streak at 1 must still say so."""
    user = {"event": "user", "text": "啊啊啊", "parse_data": {}}
    previous_turn = changes_only(
        [slot(slots.FALLBACK_STREAK, 1), slot(slots.SERVICE_ID, "guide.a")], {**HELD, slots.FALLBACK_STREAK: 1}
    )
    tracker = Tracker("c", {}, {}, [user, *previous_turn, user], False, None, {}, "action_listen")
    assert turns.previous_fallback_streak(tracker) == 1


class SetsSlots(Action):
    def name(self) -> str:
        return "action_test_sets_slots"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="好的")
        return (
            [SessionStarted(), SlotSet(slots.SERVICE_ID, "guide.a")]
            if tracker.latest_message.get("text") == "new"
            else [
                SlotSet(slots.SERVICE_ID, "guide.a"),
                SlotSet(slots.PENDING_CHOICES, ["guide.b"]),
            ]
        )


def call(text: str) -> dict[str, Any]:
    return {
        "next_action": "action_test_sets_slots",
        "tracker": {"sender_id": "c", "slots": HELD, "latest_message": {"text": text}, "events": []},
        "domain": {},
    }


def test_the_action_servers_executor_sends_changes_only():
    install()
    install()  # once only
    executor = ActionExecutor()
    executor.register_action(SetsSlots())
    reply = asyncio.run(executor.run(call("办证")))
    assert reply is not None
    assert reply["events"] == [SlotSet(slots.PENDING_CHOICES, ["guide.b"])]
    assert reply["responses"][0]["text"] == "好的"
    new_session = asyncio.run(executor.run(call("new")))
    assert new_session is not None
    assert [e["event"] for e in new_session["events"]] == ["session_started", "slot"]
