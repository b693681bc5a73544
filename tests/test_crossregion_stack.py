"""跨域通办 and 自助办 through the real servers (trained Rasa model + action server, Rasa's REST
channel): the NLU's intents and the actions' answers together."""

from __future__ import annotations

import pytest
from test_actions_stack import Chat, custom, texts

pytestmark = pytest.mark.rasa


def test_can_i_do_it_where_i_work(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    chat.say("身份证丢了要补办，要带啥")
    reply = chat.say("我在北京工作能在那边办吗")
    [answer] = custom(reply, "answer")
    assert (answer["entry_id"], answer["element"]) == ("guide.id-card-renewal-replacement", "cross_region")
    assert texts(reply).startswith("在北京可以办") and "全国通办" in texts(reply)


def test_elsewhere_as_a_follow_up(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    chat.say("新车上牌在哪办")
    reply = chat.say("那在外地能办不")
    [answer] = custom(reply, "answer")
    assert (answer["entry_id"], answer["element"]) == ("guide.new-vehicle-registration", "cross_region")


def test_terminals_then_their_hours_then_a_place(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    first = chat.say("附近哪有能打社保证明的自助机")
    shown = chat.slots()["terminal_ids"]
    assert shown and all(s.startswith("terminal.") for s in shown)
    assert [a["entry_id"] for a in custom(first, "answer")] == shown[:1]
    assert chat.slots()["terminal_matter"] == "guide.social-insurance-record-print"
    hours = chat.say("几点关门")
    assert chat.slots()["terminal_ids"] == shown and "24小时" in texts(hours)
    near = chat.say("我在济北")
    [answer] = custom(near, "answer")
    assert answer["entry_id"] == "terminal.jibei-bank"
