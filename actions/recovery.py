"""What the assistant does when it cannot help: the first time it asks the citizen to rephrase
and shows questions it can answer; the second time in a row it offers an online helper (a "yes"
then hands over with reason `fallback`, see handoff.py and session.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import knowledge, payloads, slots, texts, turns

EXAMPLE_COUNT = 3
OFFER_AFTER = 2  # failures in a row before a helper is offered


def cannot_help(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    lead: str,
    reason: payloads.UnresolvedReason = "not_found",
) -> list[EventType]:
    # Staff see every question the assistant could not help with (bot worklist, docs/payloads.md).
    dispatcher.utter_message(json_message=payloads.unresolved(reason))
    streak = turns.previous_fallback_streak(tracker) + 1
    if streak >= OFFER_AFTER:
        dispatcher.utter_message(text=texts.OFFER_HANDOFF, buttons=[texts.BUTTON_YES_HANDOFF, texts.BUTTON_NO])
        return [SlotSet(slots.FALLBACK_STREAK, streak), SlotSet(slots.PENDING_OFFER, slots.OFFER_HANDOFF)]
    examples = knowledge.example_questions(EXAMPLE_COUNT)
    lines = [lead + texts.REPHRASE, *(f"· {qa.question}" for qa in examples)]
    dispatcher.utter_message(text="\n".join(lines), buttons=[texts.button_entry(qa.id, qa.question) for qa in examples])
    return [SlotSet(slots.FALLBACK_STREAK, streak), SlotSet(slots.PENDING_OFFER, None)]
