"""就近办: the service centre for the citizen's street, town, village or landmark.

The place comes from the `place` entity or, when missing, from `center_form`, which asks for it
(buttons list the streets and towns of the knowledge base's centres; "第二个" picks a button).  A
place that matches no centre, even as a misspelling ("回合街道"), is asked once more; after that
the district centre is offered instead of asking forever.

Right after a centre was shown, "几点上班" / "电话多少" are about that centre, and "那另一个呢"
is about the other centre named (or the one shown before it).  A place mentioned as context in a
question about something else ("俺住崔寨，想问问孩子上学要啥材料") does not make the answer a
centre card: the question is answered (actions/answers.py).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from knowledge_base.models import Center
from knowledge_base.question import question_part

from . import choices, knowledge, payloads, self_service, slots, texts, turns
from . import state as st
from .privacy import mask, shorten
from .state import State

MAX_PLACE_ATTEMPTS = 2
Detail = Literal["hours", "phone", "address"]

# Words that ask for a centre (as opposed to a service question that mentions a place).
CENTER_CUES = re.compile(r"(中心|大厅|便民|服务站|网点|办事处|就近|附近|最近|离.{0,6}近|哪个.{0,4}(?:办|去)|营业)")
DETAIL_CUES: dict[Detail, re.Pattern[str]] = {
    "hours": re.compile(r"(几点|上班|下班|开门|关门|营业|开放|时间|周末|周六|周日|星期|礼拜|中午|节假日)"),
    "phone": re.compile(r"(电话|号码|联系)"),
    "address": re.compile(r"(地址|在哪|哪儿|哪里|怎么走|咋走|位置|怎么去|咋去)"),
}
# The district's own hall named without a place ("区政务服务中心", "区里那个政务大厅"); 社区 / 开发区 /
# 小区 centres are not the district's.
DISTRICT_HALL = re.compile(
    r"(?<![社小园景片辖城发])区(?:里|上|级|政府)?(?:那个|那|的)?(?:政务|行政|便民)?(?:服务)?(?:中心|大厅)"
)
OTHER_ONE = re.compile(r"(另一个|另外一个|另外那个|另一家|另外一家|那个呢|别的那个|另一处)")
MAX_FOLLOW_UP_CHARS = 16


# "Where, near me": 就近 / 附近 / 俺们那 / 家门口 with a where-word — about the place the citizen
# named earlier in the conversation ("俺住垛石…" → "那俺就近去哪办").
NEAR_ME = re.compile(r"(就近|附近|离.{0,4}近|家门口|(?:俺|我|咱)(?:们)?(?:那|这|村|镇|街道)(?:儿|边|里)?)")
WHERE = re.compile(r"(在哪|哪里|哪儿|哪个|去哪|哪办|咋走|怎么走)")


def own_place_center(tracker: Tracker, text: str) -> Center | None:
    """The centre of the place the citizen said earlier (the `place` slot, kept from that turn),
    for a short "where, near me?" that names no place of its own."""
    place = tracker.get_slot(slots.PLACE)
    if not place or turns.entity_value(tracker, "place") or len(text) > MAX_FOLLOW_UP_CHARS:
        return None
    if not (NEAR_ME.search(text) and WHERE.search(text)) or knowledge.center_for_place(text) is not None:
        return None
    return knowledge.center_for_place(str(place)) or knowledge.center_by_misspelling(str(place))


def detail_asked(text: str) -> Detail | None:
    for detail, pattern in DETAIL_CUES.items():
        if pattern.search(text):
            return detail
    return None


async def find_center(place: str) -> Center | None:
    """By name first (area, centre name, villages, landmarks), then a misspelt street or town,
    then by search over centres."""
    center = knowledge.center_for_place(place)
    if center is not None:
        return center
    center = knowledge.center_by_misspelling(place)
    if center is not None:
        return center
    match = await knowledge.find(place, ("center",))
    if match.outcome == "answer":
        found = knowledge.get(match.choices[0].id)
        return found if isinstance(found, Center) else None
    return None


def named_center(text: str) -> Center | None:
    """The centre a message names by itself, with no place entity: a street, town, village or
    landmark (also spaced out, "崔 寨"), a misspelt street or town, or the district's own hall."""
    center = knowledge.center_for_place(text) or knowledge.center_by_misspelling(text)
    if center is None and DISTRICT_HALL.search("".join(text.split())):
        center = knowledge.district_center()
    return center


def place_choices() -> list[Center]:
    return [c for c in knowledge.all_centers() if c.level != "区级"]


def picked_area(text: str) -> Center | None:
    """A centre button picked by number or ordinal ("第二个") while the place is asked for."""
    offered = place_choices()
    index = choices.by_position(text, len(offered))
    return offered[index] if index is not None else None


def follow_up_center(state: State, text: str) -> tuple[Center, Detail | None] | None:
    """The centre a short follow-up right after a centre answer is about: its own hours, phone,
    address; or "那另一个呢": the other centre named, else the one shown before."""
    if not state.center_id or state.last_answer_id != state.center_id or len(text) > MAX_FOLLOW_UP_CHARS:
        return None
    if knowledge.center_for_place(text) is not None:
        return None  # a place is named: that place's centre, not a follow-up
    if OTHER_ONE.search(text):
        if state.choice_kind == "center" and state.choices:
            other_id: str | None = state.choices[0]
        else:
            other_id = state.other_center()
            if other_id is None:
                district = knowledge.district_center()
                other_id = district.id if district is not None and district.id != state.center_id else None
        other = knowledge.get(other_id)
        return (other, detail_asked(text)) if isinstance(other, Center) else None
    detail = detail_asked(text)
    current = knowledge.get(state.center_id)
    if detail is not None and isinstance(current, Center):
        return current, detail
    return None


class ValidateCenterForm(FormValidationAction):
    def name(self) -> str:
        return "validate_center_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if (tracker.get_slot(slots.PLACE_ATTEMPTS) or 0) >= MAX_PLACE_ATTEMPTS:
            return []  # stop asking: the form ends and the district centre is offered
        text = turns.latest_text(tracker)
        if follow_up_center(State.of(tracker), text) is not None:
            return []  # about the centre just shown: action_nearest_center answers it
        if self_service.shown_now(State.of(tracker)) or self_service.asks_terminal(text):
            return []  # about self-service terminals: action_nearest_center hands it on
        if not tracker.get_slot(slots.PLACE) and text and named_center(text) is not None:
            return []  # the message names the centre itself ("回合街道", "区政务大厅"): action_nearest_center finds it
        return domain_slots

    async def validate_place(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        place = str(slot_value or "").strip()
        center = (await find_center(place) or picked_area(place)) if place else None
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
        areas = [c.area for c in place_choices()]
        dispatcher.utter_message(text=texts.ASK_PLACE, buttons=[texts.button_place(a) for a in areas])
        return []


def answer_center(
    dispatcher: CollectingDispatcher, state: State, center: Center, intro: str = "", others: tuple[Center, ...] = ()
) -> list[EventType]:
    dispatcher.utter_message(text=texts.center_answer(center, intro))
    dispatcher.utter_message(json_message=payloads.answer(center, None))
    events = st.center_shown(state, center.id)
    if others:
        # More than one place named: "那另一个呢" is about the next one.
        events += st.offered([c.id for c in others], "center")
    return events


def answer_center_detail(
    dispatcher: CollectingDispatcher, state: State, center: Center, detail: Detail | None
) -> list[EventType]:
    if detail is None:
        return answer_center(dispatcher, state, center)
    value = {"hours": center.hours, "phone": center.phone, "address": center.address}[detail]
    label = {"hours": "办公时间", "phone": "电话", "address": "地址"}[detail]
    dispatcher.utter_message(text=f"{center.name}的{label}：{value}\n{texts.source_center(center)}")
    dispatcher.utter_message(json_message=payloads.answer(center, None))
    return st.center_shown(state, center.id)


def asks_something_else(text: str) -> bool:
    """A question that only mentions a place as context: it asks about a service element or has
    question words, and asks for no centre ("俺住崔寨，想问问孩子上学要啥材料")."""
    if CENTER_CUES.search(text):
        return False
    element = texts.detect_element(text)
    return element is not None and element not in ("location", "phone")


def asks_no_place(text: str) -> bool:
    """Neither a centre nor a location, hours or phone is asked for ("咱济阳有几个一件事能一块办的")."""
    return (
        not CENTER_CUES.search(text)
        and detail_asked(text) is None
        and texts.detect_element(text) not in ("location", "phone")
    )


class ActionNearestCenter(Action):
    """Submit of center_form: the centre for the place, or the district centre after failed tries.
    The place is cleared afterwards so the next question about another place asks again."""

    def name(self) -> str:
        return "action_nearest_center"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        from . import answers

        state = State.of(tracker)
        text = turns.latest_text(tracker)
        events: list[EventType] = [SlotSet(slots.PLACE, None), SlotSet(slots.PLACE_ATTEMPTS, 0)]
        if text:
            from .router import self_service_reply

            terminals = await self_service_reply(dispatcher, tracker, state, text)
            if terminals is not None:
                return events + terminals
        if text and turns.latest_intent(tracker) == "ask_nearest_center":
            if asks_something_else(text):
                element = answers.requested_element(tracker, text, state)
                return events + await answers.answer_question(dispatcher, tracker, state, text, element)
            rest = turns.without_entities(text, tracker, ("place",))
            if asks_no_place(text) and knowledge.has_terms(knowledge.without_place_names(rest)):
                # "咱济阳有几个一件事能一块办的": a place named, no centre or location asked, and the
                # rest is a question the knowledge base answers with confidence.
                # Searched with the place: "济阳" is part of what is asked here.
                match = await knowledge.find(question_part(text))
                entry = knowledge.get(match.choices[0].id) if match.outcome == "answer" else None
                if entry is not None:
                    return events + answers.respond(dispatcher, state, entry, None)
        follow_up = follow_up_center(state, text) if text else None
        if follow_up is not None and not tracker.get_slot(slots.PLACE):
            return events + answer_center_detail(dispatcher, state, *follow_up)
        place = tracker.get_slot(slots.PLACE)
        center = await find_center(str(place)) if place else None
        if center is None and text and turns.latest_intent(tracker) == "ask_nearest_center":
            center = named_center(text)
        if center is not None:
            others = tuple(c for c in knowledge.centers_in(text) if c.id != center.id) if text else ()
            detail = detail_asked(text) if text and detail_asked(text) != "address" else None
            if detail is not None and not others:
                return events + answer_center_detail(dispatcher, state, center, detail)
            return events + answer_center(dispatcher, state, center, others=others)
        district = knowledge.district_center()
        if district is not None:
            return events + answer_center(dispatcher, state, district, intro=texts.PLACE_GIVE_UP)
        dispatcher.utter_message(text=texts.NOT_FOUND_BLANK, buttons=[texts.BUTTON_HUMAN])
        return events
