"""End to end through the real servers: Rasa's REST channel -> trained model -> action server ->
knowledge base.  Every fact checked here is read from the knowledge base, not written in the test."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from knowledge_base.elements import render_element
from knowledge_base.loader import load_data_dir

pytestmark = pytest.mark.rasa

GUIDE_ID = "guide.individual-business-registration"


def guide():
    return next(e for e in load_data_dir() if e.id == GUIDE_ID)


class Chat:
    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = f"test-{uuid.uuid4().hex[:8]}"

    def say(self, text: str) -> list[dict]:
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def payloads(replies: list[dict], kind: str) -> list[dict]:
    return [r["custom"] for r in replies if isinstance(r.get("custom"), dict) and r["custom"].get("type") == kind]


def test_element_answer_then_follow_up_without_the_service(rasa_stack):
    chat = Chat(rasa_stack.rasa_url)
    replies = chat.say("个体工商户设立登记要带什么材料？")
    [answer] = payloads(replies, "answer")
    assert answer["entry_id"] == GUIDE_ID and answer["element"] == "materials"
    for material in guide().materials:
        assert material.name in texts(replies)
    assert guide().title in texts(replies)  # the answer names its source
    assert any(b["title"] == "转人工" for r in replies for b in r.get("buttons", []))

    replies = chat.say("那要多少钱？")
    [answer] = payloads(replies, "answer")
    assert (answer["entry_id"], answer["element"]) == (GUIDE_ID, "fee")
    assert render_element(guide(), "fee") in texts(replies)


def test_walkthrough_steps_and_stuck_hands_off_with_the_step(rasa_stack):
    chat = Chat(rasa_stack.rasa_url)
    chat.say("个体工商户设立登记")
    steps = guide().online.steps
    replies = chat.say("网上怎么办")
    assert f"第1步/共{len(steps)}步" in texts(replies) and steps[0] in texts(replies)
    replies = chat.say("下一步")
    assert f"第2步/共{len(steps)}步" in texts(replies) and steps[1] in texts(replies)
    replies = chat.say("卡住了，不会弄")
    [handoff] = payloads(replies, "handoff")
    assert handoff["reason"] == "stuck" and handoff["step"] == 2 and handoff["service"] == GUIDE_ID


def test_request_human_emits_the_handoff_payload(rasa_stack):
    replies = Chat(rasa_stack.rasa_url).say("转人工")
    [handoff] = payloads(replies, "handoff")
    assert handoff["reason"] == "request_human"
    assert texts(replies).strip()


@pytest.mark.parametrize("message", ["", "？？？！！！", "🙂🙂🙂", "营业执照" * 1250, "abc 123 我想办 license"])
def test_awkward_messages_get_a_polite_reply(rasa_stack, message):
    replies = Chat(rasa_stack.rasa_url).say(message)
    assert texts(replies).strip(), f"no reply to {message[:20]!r}"
