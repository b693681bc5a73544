"""scripts/rasa_server.py: Rasa's action-reply validation with a validator built once gives the
same verdicts and the same error message as Rasa's own `jsonschema.validate` on every call."""

from __future__ import annotations

import importlib.util
from typing import Any

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa_stack import REPO

spec = importlib.util.spec_from_file_location("rasa_server", REPO / "scripts" / "rasa_server.py")
assert spec is not None and spec.loader is not None
rasa_server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rasa_server)

VALID: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "service_id", "value": "guide.x", "timestamp": None}],
        "responses": [{"text": "您好", "buttons": [{"title": "是", "payload": "/affirm"}]}, {"custom": {"a": 1}}],
    },
]
INVALID: list[Any] = [
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
]


def rasa_verdict(result: Any) -> str | None:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error.message
    return None


@pytest.mark.parametrize("result", VALID)
def test_valid_replies_pass(result):
    assert rasa_verdict(result) is None
    assert rasa_server._validate_action_result(None, result) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_replies_fail_with_rasas_message(result):
    expected = rasa_verdict(result)
    assert expected is not None
    with pytest.raises(jsonschema.ValidationError) as caught:
        rasa_server._validate_action_result(None, result)
    assert caught.value.message.startswith(expected + ". Failed to validate Action server response")


def test_the_fix_replaces_rasas_method():
    original = RemoteAction._validate_action_result
    try:
        rasa_server.apply_fixes()
        assert RemoteAction._validate_action_result is rasa_server._validate_action_result
    finally:
        RemoteAction._validate_action_result = original


def test_event_types_resolve_to_rasas_classes():
    """The table gives the class Rasa's walk over Event's subclasses gives, for every type name,
    and the same answers for an unknown name, a default and the old `topic`."""
    from rasa.shared.core.events import Event, SlotSet
    from rasa.shared.utils.common import all_subclasses

    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert rasa_server._resolve_event_type(name) is Event.resolve_by_type(name)
    assert rasa_server._resolve_event_type("topic") is None
    assert rasa_server._resolve_event_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        rasa_server._resolve_event_type("no_such_event")
    original = Event.__dict__["resolve_by_type"]
    try:
        rasa_server.apply_fixes()
        assert Event.from_parameters({"event": "slot", "name": "a", "value": 1}) == SlotSet("a", 1)
        assert Event.resolve_by_type("slot") is SlotSet
    finally:
        Event.resolve_by_type = original


@pytest.mark.rasa
async def test_the_nlu_runs_in_the_pool_with_rasas_result(monkeypatch: pytest.MonkeyPatch):
    """The patched parse gives what Rasa's own gives, and the graph (the encoder in it) runs on a
    pool thread, not on the event loop's."""
    import threading

    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa_stack import train_model

    from knowledge_base import embeddings

    agent = await load_agent(model_path=str(train_model()))
    threads: list[str] = []
    real_encode = embeddings.encode

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real_encode(*args, **kwargs)

    texts = ["你好", "社保卡丢了咋补办呀，俺在济阳街道住", "那要多少钱", "营业执照遗失补领需要啥材料"]
    for text in texts:
        expected = await MessageProcessor.parse_message(agent.processor, UserMessage(text + "。"))
        embeddings._QUERIES.clear()  # encoded again, not read from the cache of recent questions
        monkeypatch.setattr(embeddings, "encode", recording)
        got = await rasa_server._parse_message(agent.processor, UserMessage(text + "。"))
        monkeypatch.setattr(embeddings, "encode", real_encode)
        assert got == expected
    assert threads and all(name.startswith("nlu") for name in threads)
