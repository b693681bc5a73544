"""一件事 bundles in conversation (actions/, knowledge_base/bundles.py): element questions and
follow-ups, the overview, the online walkthrough and the hint when two member matters are asked.
Real Trackers, a real store built from the curated data; expected facts are read from the store."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, button_intent, entity

from actions.answers import ActionAnswer
from actions.walkthrough import ActionWalkthroughStart
from knowledge_base import KnowledgeBase
from knowledge_base.bundles import BundleGuide

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

RETIREMENT = "bundle.retirement"
BIRTH = "bundle.birth"
BIRTH_REGISTRATION = "guide.birth-household-registration"
CARD = "guide.social-security-card"


def view(kb: KnowledgeBase, bundle_id: str) -> BundleGuide:
    entry = kb.get(bundle_id)
    assert isinstance(entry, BundleGuide), bundle_id
    return entry


def answered(reply) -> tuple[str, str | None]:
    payload = reply.payload("answer")
    return payload["entry_id"], payload["element"]


async def test_materials_then_how_long_of_a_bundle(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "退休一件事要带什么"
    reply = await c.say(
        ActionAnswer(), text, "ask_element", [entity("service", "退休一件事", text), entity("element", "materials")]
    )
    assert answered(reply) == (RETIREMENT, "materials")
    bundle = view(store, RETIREMENT)
    assert "一次提交，2件事共用一套材料" in reply.text
    assert bundle.materials[0].name in reply.text  # the one form
    follow = await c.say(ActionAnswer(), "那多久", "ask_element", [entity("element", "time_limit")])
    assert answered(follow) == (RETIREMENT, "time_limit")
    assert bundle.time_limit.promised.splitlines()[0] in follow.text


async def test_a_bundle_found_by_search_without_the_nlu_naming_it(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "身后一件事都要准备啥材料", "ask_element", [entity("element", "materials")])
    assert answered(reply) == ("bundle.after-death", "materials")
    fee = await c.say(ActionAnswer(), "要花钱吗", "ask_element", [entity("element", "fee")])
    assert answered(fee) == ("bundle.after-death", "fee")
    # 不动产继承登记 charges a fee: the bundle says so, and that the rest is free.
    assert "80元" in fee.text and "其余事项不收费" in fee.text


async def test_overview_names_the_member_matters(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "出生一件事", "ask_service", [entity("service", "出生一件事", "出生一件事")])
    assert answered(reply) == (BIRTH, None)
    for member in view(store, BIRTH).member_guides:
        assert member.title.split("（")[0] in reply.text


async def test_walkthrough_of_a_bundle(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "出生一件事网上怎么办"
    reply = await c.say(ActionWalkthroughStart(), text, "start_walkthrough", [entity("service", "出生一件事", text)])
    bundle = view(store, BIRTH)
    assert bundle.online is not None
    assert reply.payload("walkthrough") == {
        "type": "walkthrough",
        "entry_id": BIRTH,
        "step": 1,
        "total": len(bundle.online.steps),
    }


async def test_two_member_matters_point_out_the_bundle(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(
        ActionAnswer(),
        "孩子报户口要带啥",
        "ask_element",
        [entity("service", "出生登记"), entity("element", "materials")],
    )
    assert answered(first) == (BIRTH_REGISTRATION, "materials")
    assert "出生一件事" not in first.text  # one member alone: no hint yet
    second = await c.say(ActionAnswer(), "那社保卡呢", "ask_service", [entity("service", "社会保障卡申领、补换")])
    assert answered(second)[0] == CARD
    assert "《出生一件事》一起办" in second.text
    presses = [button_intent(b["payload"]) for b in second.buttons]
    assert ("choose_entry", {"entry_id": BIRTH}) in presses
    again = await c.say(ActionAnswer(), "要带啥", "ask_element", [entity("element", "materials")])
    assert answered(again) == (CARD, "materials")
    assert "一起办" not in again.text  # still the same matter: said once


async def test_two_matters_named_in_one_message(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "结婚登记和生育登记能一块办吗"
    reply = await c.say(ActionAnswer(), text, "ask_service", [entity("service", "内地居民结婚登记")])
    assert "《婚育一件事》" in reply.text


async def test_matters_of_no_common_bundle_get_no_hint(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionAnswer(), "出生登记", "ask_service", [entity("service", "出生登记", "出生登记")])
    reply = await c.say(ActionAnswer(), "个体工商户设立登记", "ask_service", [entity("service", "个体工商户设立登记")])
    assert "一起办" not in reply.text
