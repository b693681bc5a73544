"""Session start, greeting and yes/no answers to the assistant's own offers.

A new session (after `session_expiration_time`, see domain.yml) keeps the service in context,
the walkthrough position and the handoff flag, so a returning citizen is greeted with what they
were doing and can say "继续上次的".  Everything that belonged to one exchange is reset."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import slots, texts
from .handoff import hand_over
from .recovery import cannot_help
from .walkthrough import paused_position, resume


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        # `walkthrough_active` is not carried over: in a new session the walkthrough is paused.
        for name in slots.CARRIED_OVER:
            value = tracker.get_slot(name)
            if value is not None:
                events.append(SlotSet(name, value))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        guide, step = paused_position(tracker)
        if guide is not None and step is not None and guide.online is not None:
            total = len(guide.online.steps)
            dispatcher.utter_message(
                text=texts.WELCOME_BACK.format(title=guide.title, step=step, total=total),
                buttons=[texts.BUTTON_RESUME, texts.BUTTON_NO],
            )
            return [SlotSet(slots.PENDING_OFFER, slots.OFFER_RESUME)]
        dispatcher.utter_message(text=texts.GREETING)
        return [SlotSet(slots.PENDING_OFFER, None)]


class ActionReplyToOffer(Action):
    """affirm / deny: answer whatever the assistant offered last (slot `pending_offer`)."""

    def name(self) -> str:
        return "action_reply_to_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        offer = tracker.get_slot(slots.PENDING_OFFER)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        yes = intent == "affirm"
        if offer == slots.OFFER_HANDOFF:
            if yes:
                return hand_over(dispatcher, tracker, "fallback")
            dispatcher.utter_message(text=texts.OFFER_DECLINED)
            return [SlotSet(slots.PENDING_OFFER, None), SlotSet(slots.FALLBACK_STREAK, 0)]
        if offer == slots.OFFER_RESUME:
            if yes:
                return resume(dispatcher, tracker)
            dispatcher.utter_message(text=texts.DENY_NOTHING_PENDING)
            return [SlotSet(slots.PENDING_OFFER, None)]
        if offer == slots.OFFER_CLARIFY and not yes:
            # "都不是": the assistant did not find what the citizen meant; counts as a failed turn.
            return [
                SlotSet(slots.PENDING_ELEMENT, None),
                *cannot_help(dispatcher, tracker, texts.CLARIFY_NONE_OF_THEM, "none_of_them"),
            ]
        dispatcher.utter_message(text=texts.AFFIRM_NOTHING_PENDING if yes else texts.DENY_NOTHING_PENDING)
        return [SlotSet(slots.PENDING_OFFER, None)]
