"""就近办: the centre form's validation, its question and the answer, against the curated
centres in a real knowledge-base store."""

from __future__ import annotations

import pytest
from actions_harness import DOMAIN, Conversation, button_intent, entity
from rasa_sdk.executor import CollectingDispatcher

from actions.centers import ActionAskPlace, ActionNearestCenter, ValidateCenterForm
from knowledge_base import KnowledgeBase
from knowledge_base.models import Center

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy


def centers(kb: KnowledgeBase) -> list[Center]:
    found = [c for c in kb.store.all("center") if isinstance(c, Center)]
    assert found, "the curated data has service centres"
    return found


def street_center(kb: KnowledgeBase) -> Center:
    return next(c for c in centers(kb) if c.level != "区级" and c.places)


async def validate(c: Conversation, text: str) -> tuple[dict, CollectingDispatcher]:
    c.active_loop = {"name": "center_form"}
    c.events.append({"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "x"}}})
    dispatcher = CollectingDispatcher()
    tracker = c.tracker({"text": text})
    value = await ValidateCenterForm().validate_place(text, dispatcher, tracker, DOMAIN)
    return value, dispatcher


@pytest.mark.parametrize("how", ["area", "name", "place", "in-a-sentence"])
async def test_a_place_is_mapped_to_its_centre(store: KnowledgeBase, how: str) -> None:
    center = street_center(store)
    text = {
        "area": center.area,
        "name": center.name,
        "place": center.places[0],
        "in-a-sentence": f"我家住在{center.places[0]}附近",
    }[how]
    value, dispatcher = await validate(Conversation(), text)
    assert value == {"place": center.area, "place_attempts": 0}
    assert not dispatcher.messages


async def test_an_unknown_place_is_asked_again_then_the_form_gives_up(store: KnowledgeBase) -> None:
    c = Conversation()
    value, dispatcher = await validate(c, "火星基地")
    assert value == {"place": None, "place_attempts": 1}
    assert "火星基地" in dispatcher.messages[0]["text"]

    form = ValidateCenterForm()
    required = await form.required_slots(["place"], CollectingDispatcher(), c.tracker({}), DOMAIN)
    assert required == ["place"]
    c.slots["place_attempts"] = 2
    assert await form.required_slots(["place"], CollectingDispatcher(), c.tracker({}), DOMAIN) == []

    # The form ends without a place: the district centre is offered, from the knowledge base.
    reply = await c.run(ActionNearestCenter(), {"text": "火星基地"})
    district = next(x for x in centers(store) if x.level == "区级")
    assert district.address in reply.text and district.phone in reply.text
    assert reply.payload("answer")["entry_id"] == district.id
    assert reply.slot("place_attempts") == 0


async def test_the_question_offers_every_street_and_town(store: KnowledgeBase) -> None:
    reply = await Conversation().run(ActionAskPlace(), {})
    areas = [c.area for c in centers(store) if c.level != "区级"]
    assert reply.button_titles == areas
    for button in reply.buttons:
        intent, values = button_intent(button["payload"])
        assert intent == "ask_nearest_center" and values["place"] in areas


async def test_nearest_centre_answer_comes_from_the_kb(store: KnowledgeBase) -> None:
    center = street_center(store)
    c = Conversation()
    c.slots["place"] = center.area
    reply = await c.say(
        ActionNearestCenter(), f"{center.area}的大厅在哪", "ask_nearest_center", [entity("place", center.area)]
    )
    for fact in (center.name, center.address, center.hours, center.phone, center.services[0]):
        assert fact in reply.text
    assert f"依据：《{center.name}》" in reply.text
    assert reply.payload("answer") == {
        "type": "answer",
        "entry_id": center.id,
        "entry_title": center.name,
        "entry_kind": "center",
        "element": None,
        "entry_version": store.store.version(center.id),
    }
    # the place is cleared so that the next question about another place asks again
    assert c.slots["place"] is None and c.slots["last_answer_id"] == center.id


@pytest.mark.parametrize("text", ["区政务服务中心在哪", "区里那个政务大厅礼拜六上班不"])
async def test_the_district_hall_named_without_a_place_is_answered_not_asked(store: KnowledgeBase, text: str) -> None:
    c = Conversation()
    form = ValidateCenterForm()
    c.events.append({"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "x"}}})
    assert await form.required_slots(["place"], CollectingDispatcher(), c.tracker({"text": text}), DOMAIN) == []
    reply = await c.run(ActionNearestCenter(), {"text": text, "intent": {"name": "ask_nearest_center"}})
    district = next(x for x in centers(store) if x.level == "区级")
    assert reply.payload("answer")["entry_id"] == district.id


def test_a_community_centre_is_not_the_district_hall(store: KnowledgeBase) -> None:
    from actions.centers import named_center

    assert named_center("社区服务中心在哪") is None
    center = street_center(store)
    spaced = " ".join(center.area.removesuffix("街道").removesuffix("镇")) + " 便民服务中心地址"
    assert named_center(spaced) == center
