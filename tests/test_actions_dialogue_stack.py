"""The conversation-state rules through the real servers (trained model + action server, over
Rasa's REST channel as the bot service talks to it): what the NLU reads as goodbye, thanks or a
walkthrough command still picks the offered choice, mash gets "没听明白", a waiting citizen gets
the queue state, a centre's hours follow its name.  Facts are read from the curated data."""

from __future__ import annotations

import pytest
from test_actions_stack import Chat, custom, texts

from knowledge_base.loader import DATA_DIR, load_data_dir
from knowledge_base.models import Center

pytestmark = pytest.mark.rasa


def center(center_id: str) -> Center:
    found = next(e for e in load_data_dir(DATA_DIR) if e.id == center_id)
    assert isinstance(found, Center)
    return found


def test_a_clarification_answered_by_number_is_not_a_goodbye(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    asked = chat.say("营业执照")
    [unresolved] = custom(asked, "unresolved")
    assert unresolved["reason"] == "clarify" and len(unresolved["choices"]) >= 2
    picked = chat.say("2")
    assert [a["entry_id"] for a in custom(picked, "answer")] == [unresolved["choices"][1]]
    assert "再见" not in texts(picked)


def test_the_walkthrough_asked_for_starts_after_the_choice(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    asked = chat.say("营业执照网上咋办")
    [unresolved] = custom(asked, "unresolved")
    started = chat.say("第一个")
    [step] = custom(started, "walkthrough")
    assert step["entry_id"] == unresolved["choices"][0] and step["step"] == 1
    [step2] = custom(chat.say("下一步"), "walkthrough")
    assert step2["step"] == 2


def test_mash_is_not_small_talk_and_twice_offers_a_helper(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    first = texts(chat.say("asdfghjkl"))
    assert "没听明白" in first and "不客气" not in first
    second = texts(chat.say("qwerty"))
    assert "转接人工" in second
    assert chat.slots()["pending_offer"] == "handoff"


def test_asking_for_anyone_while_waiting_gets_the_queue_state(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    chat.say("转人工")
    assert chat.slots()["handoff_active"] is True
    for text in ("有人吗", "人呢"):
        reply = chat.say(text)
        assert "队列" in texts(reply), text
        assert "您好，我是" not in texts(reply) and "非常抱歉" not in texts(reply)


def test_a_centres_hours_right_after_naming_it(rasa_stack) -> None:
    cuizhai = center("center.cuizhai-jiedao")
    chat = Chat(rasa_stack)
    chat.say("崔寨的便民服务中心在哪")
    hours = chat.say("几点上班")
    assert cuizhai.hours in texts(hours) and cuizhai.name in texts(hours)
