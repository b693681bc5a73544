"""惠企政策 through the real servers (trained Rasa model + action server, Rasa's REST channel): a
business describes itself in one message or over two turns, hears the ranked policies, then asks
about one of them by its place in the list."""

from __future__ import annotations

import pytest
from test_actions_stack import Chat, custom, texts

pytestmark = pytest.mark.rasa

FOOD = "policy.jiyang-food-upgrade"


def listed(messages) -> list[str]:
    return [a["entry_id"] for a in custom(messages, "answer") if a["element"] == "match"]


def test_one_message_then_how_to_apply_and_until_when(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    first = chat.say("俺们是济阳的一家小型食品加工厂，成立三年了，纳税信用A级，有啥补贴政策")
    assert listed(first)[0] == FOOD
    assert "您已符合" in texts(first)
    assert chat.slots()["business_profile"]["industry"] == "食品加工"
    how = chat.say("第一个怎么申请")
    [answer] = custom(how, "answer")
    assert (answer["entry_id"], answer["element"]) == (FOOD, "apply")
    when = chat.say("那个啥时候截止")
    [answer] = custom(when, "answer")
    assert (answer["entry_id"], answer["element"]) == (FOOD, "deadline")
    assert "2027年6月30日" in texts(when)


def test_asked_for_the_missing_facts_then_the_list(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    asked = chat.say("有啥惠企政策")
    assert not custom(asked, "answer") and "先问您" in texts(asked)
    answered = chat.say("济阳的，小微企业")
    assert listed(answered)
    assert chat.slots()["business_profile"] == {"place": "济阳区", "sizes": ["小型", "微型"]}
