"""Handing a conversation to an online helper (在线帮办): the `handoff` payload of
docs/payloads.md plus the slot `handoff_active`, which the bot service resets on hand-back.

When the assistant hands over:
- request_human: the citizen asks for a person (at once, no questions asked);
- fallback: the assistant failed twice in a row, offered a helper and the citizen said yes
  (offering first, because a citizen who only mistyped should not land in a queue);
- stuck: "卡住了", at once, with the walkthrough step if one is under way;
- complaint: at once, with the complaint's words in the summary.
Asking again while a handoff is active sends the payload again (the bot service keeps one queue
entry per conversation) with a "please wait" text.
"""

from __future__ import annotations

from abc import ABC

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import Entry, Guide

from . import knowledge, payloads, texts, turns
from . import state as st
from .payloads import HandoffReason
from .privacy import mask, shorten
from .router import DialogueAction
from .state import State

REASON_LABELS: dict[str, str] = {
    "request_human": "用户要求人工",
    "fallback": "连续两次没能回答",
    "stuck": "网上办理卡住了",
    "complaint": "投诉",
}
SUMMARY_QUOTE_CHARS = 40


def walkthrough_position(state: State) -> tuple[Guide | None, int | None]:
    """The guide and step of an active walkthrough, or (None, None)."""
    if not state.walkthrough_active:
        return None, None
    guide = knowledge.get(state.walkthrough_id)
    step = state.walkthrough_step
    if not isinstance(guide, Guide) or step is None:
        return None, None
    return guide, int(step)


def summary(reason: HandoffReason, service: Entry | None, step: int | None, question: str) -> str:
    """One line for the helper's queue; personal numbers masked."""
    parts = [REASON_LABELS[reason]]
    if service is not None:
        parts.append(f"事项《{knowledge.title(service)}》")
    if step is not None:
        parts.append(f"第{step}步")
    if question:
        parts.append(f"用户说：“{shorten(mask(question), SUMMARY_QUOTE_CHARS)}”")
    return "；".join(parts)


def hand_over(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandoffReason, lead: str = ""
) -> list[EventType]:
    """Tell the citizen, emit the payload and mark the conversation as handed over."""
    state = State.of(tracker)
    guide, step = walkthrough_position(state)
    service = guide or knowledge.get(state.service_id)
    # A complaint or a "stuck" message describes the problem itself; otherwise the last question does.
    own_words = reason in ("complaint", "stuck")
    question = turns.latest_text(tracker) if own_words else turns.last_question(tracker)
    already = state.handoff_active
    if reason == "stuck" and guide is not None and step is not None:
        text = lead + texts.WALK_STUCK.format(title=guide.title, step=step)
    else:
        text = lead + (texts.HANDOFF_AGAIN if already else texts.HANDOFF_DONE)
    dispatcher.utter_message(text=text)
    dispatcher.utter_message(
        json_message=payloads.handoff(reason, service, step, summary(reason, service, step, question))
    )
    return st.handed_over()


class _HandoffAction(DialogueAction, ABC):
    """Typed text is checked first (actions/router.py): "人呢" while waiting gets the queue state,
    not a new complaint.  A pending choice is never taken from these messages."""

    takes_choice = False


class ActionHandoff(_HandoffAction):
    """request_human: hand over at once."""

    def name(self) -> str:
        return "action_handoff"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "request_human")


class ActionComplaint(_HandoffAction):
    """complain: apologise and hand over, quoting the complaint for the helper."""

    def name(self) -> str:
        return "action_complaint"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "complaint", lead=texts.COMPLAINT)


class ActionStuck(_HandoffAction):
    """stuck ("卡住了"): hand over with the walkthrough step, if any; the walkthrough stays where
    it is so the citizen can continue after the helper's hand-back."""

    def name(self) -> str:
        return "action_stuck"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "stuck", lead=texts.STUCK)
