"""The 惠企政策 conversation (actions/policies.py) with real Trackers and a real store built from
the curated data: one message or a few turns, the ranked list with what is met and what is left to
check, follow-ups about one policy, and the profile kept in the conversation's slots only."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, entity

from actions import policies
from actions.answers import ActionAnswer
from actions.fallback import ActionFallback
from actions.policies import ActionPolicies
from actions.session import ActionSmallTalk
from actions.slots import CARRIED_OVER
from knowledge_base import KnowledgeBase
from knowledge_base.models import Policy

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

FOOD = "policy.jiyang-food-upgrade"


def listed(reply) -> list[str]:
    return [p["entry_id"] for p in reply.payloads("answer") if p["element"] == "match"]


def answered(reply) -> tuple[str, str | None]:
    payload = reply.payload("answer")
    return payload["entry_id"], payload["element"]


async def test_one_message_gets_the_ranked_list_with_met_and_unchecked_conditions(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(
        ActionPolicies(), "俺们是济阳的一家小型食品加工厂，成立三年了，纳税信用A级，有啥补贴政策", "ask_policy"
    )
    ids = listed(reply)
    assert ids[0] == FOOD and 1 < len(ids) <= policies.MAX_LISTED
    assert "policy.jiyang-rural-tourism" not in ids  # its industry is not the factory's
    assert "济阳区·食品加工·小型企业·成立3年·纳税信用A级" in reply.text
    food = store.get(FOOD)
    assert isinstance(food, Policy)
    assert "您已符合：行业为食品加工或农副产品加工；成立满2年；注册在济阳区；纳税信用A级或B级" in reply.text
    assert f"还需确认：{food.other_conditions[0]}" in reply.text
    assert "无需申请，符合即享" in reply.text  # the 免申即享 ones among them say so
    assert reply.slot("policy_results") == ids
    assert reply.slot("business_profile") == {
        "industry": "食品加工",
        "sizes": ["小型"],
        "years": 3.0,
        "place": "济阳区",
        "tax_credit": "A",
    }


async def test_a_bare_question_asks_the_most_telling_facts_then_answers(store: KnowledgeBase) -> None:
    c = Conversation()
    asked = await c.say(ActionPolicies(), "有啥惠企政策", "ask_policy")
    assert not asked.payloads("answer")
    assert "先问您2个情况" in asked.text and "注册在哪里" in asked.text and "企业规模" in asked.text
    assert "不会另外保存" in asked.text
    # The answer gets whatever intent; the follow-up reads it right after the question.
    reply = await c.say(ActionFallback(), "济阳的，小微企业", "nlu_fallback", confidence=0.2)
    assert listed(reply)
    assert c.slots["business_profile"] == {"sizes": ["小型", "微型"], "place": "济阳区"}
    assert c.slots["policy_asked"] is None


async def test_not_knowing_the_facts_still_gets_a_list(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionPolicies(), "公司能申请哪些优惠政策", "ask_policy")
    reply = await c.say(ActionSmallTalk(), "不太清楚，你先说说", "chitchat")
    assert listed(reply)


async def test_follow_ups_by_position_and_by_that_one(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(ActionPolicies(), "济阳的小型食品厂，成立三年，纳税信用A级，有啥政策", "ask_policy")
    second_id = listed(first)[1]
    how = await c.say(ActionAnswer(), "第二个怎么申请", "ask_element", [entity("element", "process")])
    assert answered(how) == (second_id, "apply")
    second = store.get(second_id)
    assert isinstance(second, Policy) and second.apply in how.text
    when = await c.say(ActionAnswer(), "那个啥时候截止", "ask_element", [entity("element", "time_limit")])
    assert answered(when) == (second_id, "deadline")
    first_materials = await c.say(ActionAnswer(), "第一个要啥材料", "ask_element", [entity("element", "materials")])
    assert answered(first_materials) == (FOOD, "materials")
    food = store.get(FOOD)
    assert isinstance(food, Policy) and food.materials[0] in first_materials.text
    too_far = await c.say(ActionAnswer(), "第九个呢", "choose_entry")
    assert "只有" in too_far.text and not too_far.payloads("answer")


async def test_a_new_fact_after_the_list_changes_it(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(ActionPolicies(), "济阳的小微企业，成立三年了，有啥补贴", "ask_policy")
    later = await c.say(ActionFallback(), "我们没有失信记录", "nlu_fallback", confidence=0.2)
    assert listed(later)
    assert c.slots["business_profile"]["good_credit"] is True
    loan = "policy.jiyang-small-loan-interest"
    assert loan in listed(first) and loan in listed(later)
    assert "还需确认：未列入严重失信名单" in first.text
    assert "您已符合：小型或微型企业；成立满1年；注册在济阳区；未列入严重失信名单" in later.text


async def test_a_policy_named_in_any_question(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "研发费用加计扣除咋申请", "ask_service")
    assert answered(reply) == ("policy.rd-extra-deduction", "apply")
    conditions = await c.say(ActionAnswer(), "有啥条件", "ask_element", [entity("element", "conditions")])
    assert answered(conditions) == ("policy.rd-extra-deduction", "conditions")


async def test_a_free_policy_and_an_expired_one(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionPolicies(), "我们是济南的高新技术企业，有没有奖励", "ask_policy")
    assert listed(reply)[0] == "policy.jinan-hightech-award"
    how = await c.say(ActionAnswer(), "那个怎么申请", "ask_element")
    assert answered(how) == ("policy.jinan-hightech-award", "apply")
    assert "免申即享政策，无需申请，符合即享" in how.text
    trucks = await c.say(ActionPolicies(), "物流运输公司，在济阳，成立两年，纳税信用B级，有啥补贴", "ask_policy")
    assert "policy.jinan-logistics-ev-trucks" not in listed(trucks)  # past its deadline
    over = await c.say(ActionAnswer(), "新能源货车补贴啥时候截止", "ask_element")
    assert answered(over) == ("policy.jinan-logistics-ev-trucks", "deadline")
    assert "已经截止" in over.text


async def test_a_question_about_a_service_after_the_list_is_not_taken(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionPolicies(), "我们是济阳的小饭店，开了三年，有什么补贴政策", "ask_policy")
    text = "办食品经营许可证要带什么材料"
    reply = await c.say(
        ActionAnswer(), text, "ask_element", [entity("service", "食品经营许可", text), entity("element", "materials")]
    )
    assert answered(reply) == ("guide.food-business-license", "materials")


async def test_a_business_describing_itself_is_heard_whatever_the_intent(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "俺们是济阳的种菜合作社，成立两年了，有啥补贴", "ask_service")
    assert listed(reply)[0] == "policy.jiyang-cooperative-support"


def test_the_profile_is_not_carried_into_a_new_session() -> None:
    assert not {policies.PROFILE, policies.RESULTS, policies.CURRENT, policies.ASKED} & set(CARRIED_OVER)


async def test_a_service_question_the_nlu_took_for_a_policy_question_is_answered_as_one(store: KnowledgeBase) -> None:
    c = Conversation()
    text = "退休一件事包括啥"
    reply = await c.say(ActionPolicies(), text, "ask_policy", [entity("service", "退休一件事", text)])
    assert reply.payload("answer")["entry_id"] == "bundle.retirement"
    assert "先问您" not in reply.text
    loan = await c.say(ActionPolicies(), "俺想贷款开个养鸡场，那个创业担保贷款能贷多少", "ask_policy")
    assert not [p for p in loan.payloads("answer") if p["entry_kind"] == "policy"] and "先问您" not in loan.text
