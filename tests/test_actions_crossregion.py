"""跨域通办 and 自助办 in conversation (actions/crossregion.py, actions/self_service.py): real
Trackers, a real store built from the curated data; expected facts are read from the store."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, entity

from actions.answers import ActionAnswer
from actions.centers import ActionNearestCenter
from actions.self_service import ActionSelfService
from knowledge_base import KnowledgeBase
from knowledge_base.models import Terminal

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

ID_CARD = "guide.id-card-renewal-replacement"
RECORD = "guide.social-insurance-record-print"
CAR = "guide.new-vehicle-registration"


def answered(reply) -> tuple[str, str | None]:
    payload = reply.payload("answer")
    return payload["entry_id"], payload["element"]


def terminal_ids(reply) -> list[str]:
    """The terminals the reply showed, in order (its one answer payload names the first)."""
    shown = reply.slot("terminal_ids")
    assert reply.payload("answer")["entry_id"] == shown[0]
    return shown


def terminal(kb: KnowledgeBase, terminal_id: str) -> Terminal:
    entry = kb.get(terminal_id)
    assert isinstance(entry, Terminal), terminal_id
    return entry


# -- 跨域通办 ------------------------------------------------------------------------------------


async def test_can_i_do_it_elsewhere_is_the_cross_region_element(store: KnowledgeBase) -> None:
    """ "能不能办" is a conditions word: with 在外地 it asks whether it can be done there."""
    c = Conversation()
    text = "俺在外地能不能办身份证"
    reply = await c.say(
        ActionAnswer(), text, "ask_element", [entity("service", "换身份证", text), entity("element", "conditions")]
    )
    assert answered(reply) == (ID_CARD, "cross_region")
    assert "全国通办" in reply.text and "异地窗口" in reply.text
    assert "《居民身份证换领、补领（含跨省通办）》" in reply.text  # the guide is named


async def test_a_named_place_gets_a_verdict_first(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionAnswer(), "补办身份证要带啥", "ask_element", [entity("service", "补办身份证")])
    reply = await c.say(ActionAnswer(), "我在北京工作能在那边办吗", "ask_element")
    assert answered(reply) == (ID_CARD, "cross_region")
    assert reply.text.startswith("在北京可以办")


async def test_a_follow_up_after_a_guide(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(ActionAnswer(), "新车上牌要啥材料", "ask_element", [entity("service", "新车上牌")])
    assert answered(first) == (CAR, "materials")
    reply = await c.say(ActionAnswer(), "那在外地能办不", "ask_element")
    assert answered(reply) == (CAR, "cross_region")
    assert "暂未列入跨域通办" in reply.text


async def test_a_place_outside_the_scope_is_told_so(store: KnowledgeBase) -> None:
    """个体户 registration is 济南都市圈通办: 淄博 is inside, 北京 is not."""
    c = Conversation()
    inside = await c.say(
        ActionAnswer(), "我在淄博能办个体户营业执照吗", "ask_element", [entity("service", "个体户营业执照")]
    )
    assert answered(inside) == ("guide.individual-business-registration", "cross_region")
    assert inside.text.startswith("在淄博可以办")
    outside = await c.say(ActionAnswer(), "那在北京能办吗", "ask_element")
    assert answered(outside) == ("guide.individual-business-registration", "cross_region")
    assert not outside.text.startswith("在北京可以办") and "北京" in outside.text.splitlines()[0]


async def test_elsewhere_without_a_service_asks_which(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "异地能办吗", "ask_element")
    assert not reply.payloads("answer")
    assert reply.slot("pending_element") == "cross_region"


async def test_guide_names_with_such_words_are_not_the_question(store: KnowledgeBase) -> None:
    """异地就医备案 holds 异地 in its name: "要带啥" is still its materials."""
    c = Conversation()
    text = "异地就医备案要带啥"
    reply = await c.say(ActionAnswer(), text, "ask_element", [entity("service", "异地就医备案", text)])
    assert answered(reply) == ("guide.medical-cross-region-filing", "materials")


# -- 自助办 --------------------------------------------------------------------------------------


async def test_terminals_for_a_matter_24_hours_first_and_the_place_asked(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionSelfService(), "附近哪有能打社保证明的自助机", "ask_terminal")
    shown = [terminal(store, t) for t in terminal_ids(reply)]
    assert shown and all(RECORD in t.guides for t in shown)
    assert shown[0].always_open
    assert "告诉我您在哪个街道或镇" in reply.text
    assert reply.slot("terminal_matter") == RECORD
    assert reply.slot("service_id") == RECORD  # "要带啥" next is about the matter


async def test_the_place_puts_its_own_terminal_first(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "我在回河，附近有能打社保证明的自助机吗"
    reply = await c.say(ActionSelfService(), text, "ask_terminal", [entity("place", "回河街道")])
    first = terminal(store, terminal_ids(reply)[0])
    assert first.area == "回河街道" and RECORD in first.guides
    # A matter no terminal in 回河 serves: 24-hour ones elsewhere still come.
    other = await c.say(ActionSelfService(), "回河有能查违章的自助机吗", "ask_terminal", [entity("place", "回河街道")])
    assert all("guide.traffic-violation-handling" in terminal(store, t).guides for t in terminal_ids(other))


async def test_follow_ups_on_the_terminals_shown(store: KnowledgeBase) -> None:
    c = Conversation()
    listed = await c.say(ActionSelfService(), "哪有能打社保证明的自助机", "ask_terminal")
    shown = [terminal(store, t) for t in terminal_ids(listed)]
    hours = await c.say(ActionAnswer(), "几点关门", "ask_element", [entity("element", "location")])
    assert terminal_ids(hours) == [t.id for t in shown]
    for t in shown:
        assert (t.hours in hours.text) and ("24小时开放" in hours.text if t.always_open else True)
    always = await c.say(ActionAnswer(), "有没有24小时的", "ask_service")
    assert all(terminal(store, t).always_open for t in terminal_ids(always))
    near = await c.say(ActionNearestCenter(), "我在济北", "ask_nearest_center", [entity("place", "济北街道")])
    assert terminal(store, terminal_ids(near)[0]).area == "济北街道"
    picked = await c.say(ActionAnswer(), "第一个", "ask_service")
    assert terminal_ids(picked) == [terminal_ids(near)[0]]


async def test_a_terminal_question_under_another_intent(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionNearestCenter(), "最近的24小时自助机在哪", "ask_nearest_center")
    assert reply.payload("answer")["entry_kind"] == "terminal"


async def test_a_matter_no_terminal_serves_points_to_its_window(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "哪有能办新车上牌的自助机"
    reply = await c.say(ActionSelfService(), text, "ask_terminal", [entity("service", "新车上牌", text)])
    assert "暂时没有自助机能办" in reply.text
    assert answered(reply) == (CAR, "location")
