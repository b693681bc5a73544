"""The online walkthrough, "卡住了", stop/resume and a returning citizen's new session, against a
real knowledge-base store built from the curated data."""

from __future__ import annotations

import json

import pytest
from actions_harness import Conversation, button_intent, entity

from actions import knowledge
from actions.answers import ActionAnswer
from actions.handoff import ActionStuck
from actions.session import ActionGreet, ActionReplyToOffer, ActionSessionStart
from actions.walkthrough import (
    ActionResume,
    ActionStop,
    ActionWalkthroughNext,
    ActionWalkthroughPrevious,
    ActionWalkthroughRepeat,
    ActionWalkthroughStart,
)
from knowledge_base import KnowledgeBase
from knowledge_base.models import Guide

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

INDIVIDUAL = "guide.individual-business-registration"


def online_guide(kb: KnowledgeBase, guide_id: str = INDIVIDUAL) -> Guide:
    entry = kb.get(guide_id)
    assert isinstance(entry, Guide) and entry.online is not None
    return entry


async def start(c: Conversation, g: Guide):
    text = f"{g.title}网上怎么办"
    return await c.say(ActionWalkthroughStart(), text, "start_walkthrough", [entity("service", g.title, text)])


async def test_walkthrough_goes_step_by_step(store: KnowledgeBase) -> None:
    g = online_guide(store)
    steps, total = g.online.steps, len(g.online.steps)
    c = Conversation()

    first = await start(c, g)
    assert f"第1步/共{total}步" in first.text and steps[0] in first.text
    assert g.online.entry in first.text and f"《{g.title}》" in first.text
    assert first.payload("walkthrough") == {"type": "walkthrough", "entry_id": g.id, "step": 1, "total": total}
    assert first.payload("answer")["element"] == "online"
    assert first.button_titles == ["下一步", "卡住了", "退出"]
    assert c.slots["walkthrough_active"] is True and c.slots["service_id"] == g.id

    second = await c.press(ActionWalkthroughNext(), "/next_step")
    assert f"第2步/共{total}步" in second.text and steps[1] in second.text
    assert second.payload("walkthrough")["step"] == 2
    assert not second.payloads("answer")
    assert second.button_titles == ["上一步", "下一步", "卡住了", "退出"]

    again = await c.say(ActionWalkthroughRepeat(), "再说一遍", "repeat_step")
    assert steps[1] in again.text and again.payload("walkthrough")["step"] == 2

    back = await c.say(ActionWalkthroughPrevious(), "上一步", "previous_step")
    assert steps[0] in back.text and back.payload("walkthrough")["step"] == 1
    floor = await c.say(ActionWalkthroughPrevious(), "上一步", "previous_step")
    assert "已经是第一步了" in floor.text and floor.payload("walkthrough")["step"] == 1

    for number in range(2, total + 1):
        reply = await c.say(ActionWalkthroughNext(), "下一步", "next_step")
        assert reply.payload("walkthrough") == {"type": "walkthrough", "entry_id": g.id, "step": number, "total": total}
        assert steps[number - 1] in reply.text
    assert reply.button_titles[1] == "完成"

    done = await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    assert f"全部{total}步" in done.text and not done.payloads("walkthrough")
    assert [b["payload"] for b in done.buttons] == ["/rate_good", "/rate_bad"]
    assert c.slots["walkthrough_active"] is False and c.slots["walkthrough_step"] is None
    assert c.slots["last_answer_id"] == g.id

    after = await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    assert "没有正在进行" in after.text and not after.payloads("walkthrough")


async def test_walkthrough_starts_for_the_service_in_context(store: KnowledgeBase) -> None:
    g = online_guide(store)
    c = Conversation()
    await c.say(ActionAnswer(), g.title, "ask_service", [entity("service", g.title, g.title)])
    reply = await c.press(ActionWalkthroughStart(), "/start_walkthrough")
    assert reply.payload("walkthrough") == {
        "type": "walkthrough",
        "entry_id": g.id,
        "step": 1,
        "total": len(g.online.steps),
    }


async def test_walkthrough_without_a_service_asks_which_one(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionWalkthroughStart(), "网上怎么办", "start_walkthrough")
    assert not reply.payloads("walkthrough")
    assert 1 <= len(reply.buttons) <= 3
    for button in reply.buttons:
        intent, values = button_intent(button["payload"])
        assert intent == "start_walkthrough"
        assert knowledge.guide_by_name(values["service"]) is not None
    chosen = await c.press(ActionWalkthroughStart(), reply.buttons[0]["payload"])
    assert chosen.payload("walkthrough")["step"] == 1


async def test_a_guide_without_online_steps_says_so_and_gives_the_counter(store: KnowledgeBase) -> None:
    g = next((e for e in store.store.all("guide") if isinstance(e, Guide) and e.online is None), None)
    if g is None:
        pytest.skip("every guide in the curated data has online steps")
    text = f"{g.title}网上怎么办"
    reply = await Conversation().say(
        ActionWalkthroughStart(), text, "start_walkthrough", [entity("service", g.title, text)]
    )
    assert "没有网上办理的步骤" in reply.text
    assert g.location.address in reply.text
    assert not reply.payloads("walkthrough")


async def test_stuck_hands_over_with_the_step(store: KnowledgeBase) -> None:
    g = online_guide(store)
    c = Conversation()
    await start(c, g)
    await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    reply = await c.say(ActionStuck(), "上传照片一直失败，卡住了", "stuck")
    handoff = reply.payload("handoff")
    assert handoff["reason"] == "stuck" and handoff["step"] == 3
    assert handoff["service"] == g.id and handoff["service_title"] == g.title
    assert "第3步" in handoff["summary"] and "上传照片" in handoff["summary"]
    assert "第3步" in reply.text and "人工" in reply.text
    assert c.slots["handoff_active"] is True
    # the step is kept: after the helper, the citizen continues from there
    assert c.slots["walkthrough_step"] == 3
    cont = await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    assert cont.payload("walkthrough")["step"] == 4


async def test_stuck_outside_a_walkthrough_still_hands_over(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionStuck(), "弄不下去了", "stuck")
    handoff = reply.payload("handoff")
    assert handoff["reason"] == "stuck" and handoff["step"] is None and handoff["service"] is None


async def test_stop_pauses_and_resume_continues(store: KnowledgeBase) -> None:
    g = online_guide(store)
    c = Conversation()
    await start(c, g)
    await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    stopped = await c.say(ActionStop(), "先不办了", "stop")
    assert "第2步" in stopped.text and "继续上次的" in stopped.text
    assert c.slots["walkthrough_active"] is False and c.slots["walkthrough_step"] == 2

    resumed = await c.say(ActionResume(), "继续上次的", "resume")
    assert resumed.payload("walkthrough")["step"] == 2
    assert g.online.steps[1] in resumed.text
    assert c.slots["walkthrough_active"] is True


async def test_stop_with_nothing_going_on(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionStop(), "算了", "stop")
    assert reply.text and not reply.payloads("walkthrough")


async def test_resume_without_history(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionResume(), "继续上次的", "resume")
    assert "没有找到上次" in reply.text
    assert not reply.payloads("walkthrough")


async def test_resume_after_a_question_offers_that_service(store: KnowledgeBase) -> None:
    g = online_guide(store)
    c = Conversation()
    await c.say(ActionAnswer(), g.title, "ask_service", [entity("service", g.title, g.title)])
    reply = await c.say(ActionResume(), "继续上次的", "resume")
    assert f"《{g.title}》" in reply.text and "网上怎么办" in reply.button_titles


async def test_returning_citizen_new_session_keeps_the_position(store: KnowledgeBase) -> None:
    g = online_guide(store)
    c = Conversation()
    await start(c, g)
    await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    c.slots["pending_offer"] = "handoff"  # something from the old session that must not survive

    started = await c.run(ActionSessionStart(), {})
    assert started.events[0]["event"] == "session_started"
    assert (started.events[-1]["event"], started.events[-1]["name"]) == ("action", "action_listen")
    carried = {e["name"]: e["value"] for e in started.events if e["event"] == "slot"}
    assert carried == {
        "service_id": g.id,
        "last_answer_id": g.id,
        "recent_services": [g.id],  # for "刚才那个" after the break
        "walkthrough_id": g.id,
        "walkthrough_step": 3,
        "handoff_active": False,
    }

    # What Rasa does with these events: a fresh session holding only the carried slots.
    fresh = Conversation(sender=c.sender)
    fresh.slots.update(carried)
    fresh.events = [json.loads(json.dumps(e)) for e in started.events]
    greeting = await fresh.say(ActionGreet(), "你好", "greet")
    assert "欢迎回来" in greeting.text and f"第3步/共{len(g.online.steps)}步" in greeting.text
    assert fresh.slots["pending_offer"] == "resume"
    yes = await fresh.say(ActionReplyToOffer(), "好的", "affirm")
    assert yes.payload("walkthrough")["step"] == 3


async def test_first_greeting_is_a_plain_welcome(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionGreet(), "你好", "greet")
    assert reply.text.startswith("您好") and not reply.buttons
