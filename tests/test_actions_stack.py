"""The dialogue through the real servers: the trained Rasa model and the action server (the
session's `rasa_stack`), spoken to over Rasa's REST channel as the bot service does.

These check what only the running pair can show (tests/test_assistant_e2e.py covers the element
follow-up and the walkthrough): slots set by one action are there for the next turn, payloads
arrive as `custom` messages, the hand-back events of docs/payloads.md work, the centre form runs,
bad input always gets a reply, and a conversation survives a Rasa restart (SQL tracker store).
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.rasa


def post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


class Chat:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.sender = f"dialogue-{uuid.uuid4().hex[:12]}"

    def say(self, text: str) -> list[dict[str, Any]]:
        return post(f"{self.stack.rasa_url}/webhooks/rest/webhook", {"sender": self.sender, "message": text})

    def slots(self) -> dict[str, Any]:
        return get(f"{self.stack.rasa_url}/conversations/{self.sender}/tracker")["slots"]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def custom(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m["custom"] for m in messages if isinstance(m.get("custom"), dict) and m["custom"].get("type") == kind]


def test_walkthrough_stuck_and_hand_back(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    chat.say("个体工商户设立登记")
    start = chat.say("/start_walkthrough")
    [step] = custom(start, "walkthrough")
    assert step["step"] == 1 and step["entry_id"] == "guide.individual-business-registration"
    second = chat.say("/next_step")
    assert custom(second, "walkthrough")[0]["step"] == 2

    stuck = chat.say("/stuck")
    [handoff] = custom(stuck, "handoff")
    assert handoff["reason"] == "stuck" and handoff["step"] == 2
    assert chat.slots()["handoff_active"] is True

    # The bot service hands back (docs/payloads.md); the walkthrough goes on from step 2.
    post(
        f"{rasa_stack.rasa_url}/conversations/{chat.sender}/tracker/events",
        {"event": "slot", "name": "handoff_active", "value": False},
    )
    assert chat.slots()["handoff_active"] is False
    assert custom(chat.say("/next_step"), "walkthrough")[0]["step"] == 3


def test_fallback_twice_then_handoff(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    first = chat.say("/nlu_fallback")
    assert texts(first) and not custom(first, "handoff")
    second = chat.say("/nlu_fallback")
    assert [b["payload"] for m in second for b in m.get("buttons", [])] == ["/affirm", "/deny"]
    accepted = chat.say("/affirm")
    [handoff] = custom(accepted, "handoff")
    assert handoff["reason"] == "fallback"


def test_rating_names_the_last_answer(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    [answer] = custom(chat.say("个体工商户设立登记需要什么材料"), "answer")
    [rating] = custom(chat.say("/rate_bad"), "rating")
    assert rating == {"type": "rating", "value": "bad", "entry_id": answer["entry_id"], "comment": None}


def test_nearest_centre_form(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    asked = chat.say("附近有办事大厅吗")
    places = [b["payload"] for m in asked for b in m.get("buttons", [])]
    assert places and all(p.startswith("/ask_nearest_center") for p in places)
    answered = chat.say(places[0])
    [answer] = custom(answered, "answer")
    assert answer["entry_kind"] == "center"


@pytest.mark.parametrize("text", ["？？？", "😀😀", "办" * 5000, "我想办business license", "我要办火星移民证"])
def test_bad_input_gets_a_reply(rasa_stack, text: str) -> None:
    messages = Chat(rasa_stack).say(text)
    assert texts(messages).strip()


def test_a_returning_citizen_resumes_after_a_restart(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    chat.say("个体工商户设立登记")
    chat.say("/start_walkthrough")
    chat.say("/next_step")
    rasa_stack.stop_rasa()
    rasa_stack.start_rasa()
    resumed = chat.say("继续上次的")
    [step] = custom(resumed, "walkthrough")
    assert step["step"] == 2
