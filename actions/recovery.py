"""What the assistant does when it cannot help: the first time it asks the citizen to rephrase
and shows questions it can answer; the second time in a row (a clarification the citizen let pass
counts as a first time) it offers an online helper (a "yes"
then hands over with reason `fallback`, see handoff.py and session.py).  The examples shown are
choices too: "2" or "第二个" picks one (actions/router.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from . import knowledge, payloads, slots, texts
from . import state as st
from .state import State

EXAMPLE_COUNT = 3
OFFER_AFTER = 2  # failures in a row before a helper is offered


def unhelped_in_a_row(state: State, reason: payloads.UnresolvedReason = "not_found") -> int:
    """Turns in a row the citizen was not helped: the misses, or — when the previous turn asked
    "您想问的是…?" and this message neither took a choice nor could be read — that question, which
    was the assistant not understanding either ("俺那个事儿咋整" → choices nobody asked for →
    "就是那个啥" is the second misunderstanding, and a helper is offered).  "都不是" answers the
    clarification: the citizen is asked to rephrase first."""
    if state.pending_offer == slots.OFFER_CLARIFY and reason != "none_of_them":
        return max(state.misses, 1)
    return state.misses


def cannot_help(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    lead: str,
    reason: payloads.UnresolvedReason = "not_found",
) -> list[EventType]:
    state = State.of(tracker)
    # Staff see every question the assistant could not help with (bot worklist, docs/payloads.md).
    dispatcher.utter_message(json_message=payloads.unresolved(reason))
    if unhelped_in_a_row(state, reason) + 1 >= OFFER_AFTER:
        dispatcher.utter_message(text=texts.OFFER_HANDOFF, buttons=[texts.BUTTON_YES_HANDOFF, texts.BUTTON_NO])
        return st.missed(state, offer=slots.OFFER_HANDOFF)
    examples = knowledge.example_questions(EXAMPLE_COUNT)
    lines = [lead + texts.REPHRASE, *(f"· {qa.question}" for qa in examples)]
    dispatcher.utter_message(text="\n".join(lines), buttons=[texts.button_entry(qa.id, qa.question) for qa in examples])
    events = st.missed(state)
    # The examples can be picked by number or by part of their words, like any choices.
    return events + st.offered([qa.id for qa in examples], "entry")
