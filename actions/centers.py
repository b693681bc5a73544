"""就近办: the service centre for the citizen's street, town, village or landmark.

The place comes from the `place` entity or, when missing, from `center_form`, which asks for it
(buttons list the streets and towns of the knowledge base's centres).  A place that matches no
centre is asked once more; after that the district centre is offered instead of asking forever.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from knowledge_base.models import Center

from . import knowledge, payloads, slots, texts
from .privacy import mask, shorten

MAX_PLACE_ATTEMPTS = 2


async def find_center(place: str) -> Center | None:
    """By name first (area, centre name, villages, landmarks), then by search over centres."""
    center = knowledge.center_for_place(place)
    if center is not None:
        return center
    match = await knowledge.find(place, ("center",))
    if match.outcome == "answer":
        found = knowledge.get(match.choices[0].id)
        return found if isinstance(found, Center) else None
    return None


class ValidateCenterForm(FormValidationAction):
    def name(self) -> str:
        return "validate_center_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if (tracker.get_slot(slots.PLACE_ATTEMPTS) or 0) >= MAX_PLACE_ATTEMPTS:
            return []  # stop asking: the form ends and the district centre is offered
        return domain_slots

    async def validate_place(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        place = str(slot_value or "").strip()
        center = await find_center(place) if place else None
        if center is not None:
            return {slots.PLACE: center.area, slots.PLACE_ATTEMPTS: 0}
        attempts = int(tracker.get_slot(slots.PLACE_ATTEMPTS) or 0) + 1
        if place:
            dispatcher.utter_message(text=texts.PLACE_UNKNOWN.format(place=shorten(mask(place), 20)))
        return {slots.PLACE: None, slots.PLACE_ATTEMPTS: attempts}


class ActionAskPlace(Action):
    """The centre form's question, with one button per street or town that has a centre."""

    def name(self) -> str:
        return "action_ask_place"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        areas = [c.area for c in knowledge.all_centers() if c.level != "区级"]
        dispatcher.utter_message(text=texts.ASK_PLACE, buttons=[texts.button_place(a) for a in areas])
        return []


def answer_center(dispatcher: CollectingDispatcher, center: Center, intro: str = "") -> list[EventType]:
    dispatcher.utter_message(text=texts.center_answer(center, intro))
    dispatcher.utter_message(json_message=payloads.answer(center, None))
    return [SlotSet(slots.LAST_ANSWER_ID, center.id), SlotSet(slots.FALLBACK_STREAK, 0)]


class ActionNearestCenter(Action):
    """Submit of center_form: the centre for the place, or the district centre after failed tries.
    The place is cleared afterwards so the next question about another place asks again."""

    def name(self) -> str:
        return "action_nearest_center"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        place = tracker.get_slot(slots.PLACE)
        center = await find_center(str(place)) if place else None
        events: list[EventType] = [SlotSet(slots.PLACE, None), SlotSet(slots.PLACE_ATTEMPTS, 0)]
        if center is not None:
            return events + answer_center(dispatcher, center)
        district = knowledge.district_center()
        if district is not None:
            return events + answer_center(dispatcher, district, intro=texts.PLACE_GIVE_UP)
        dispatcher.utter_message(text=texts.NOT_FOUND_BLANK, buttons=[texts.BUTTON_HUMAN])
        return events
