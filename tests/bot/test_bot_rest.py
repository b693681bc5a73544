"""The REST API: its OpenAPI document, request validation (4xx with clear messages), and replies that
match the document.  Rasa is not running here; the round trip with the real assistant is in
test_bot_rasa_roundtrips.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from bot_helpers import StartBot, nobody_listening
from jsonschema import Draft202012Validator, RefResolver

from bot import texts


@pytest.fixture
async def bot(start_bot: StartBot):
    return await start_bot(rasa_url=nobody_listening(), apology_after=0.5)


@pytest.fixture
async def api(bot) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of a calling app with its own key (what a portal backend is)."""
    async with aiohttp.ClientSession(headers=bot.api_key("tests")) as session:
        yield session


async def openapi(http: aiohttp.ClientSession, bot) -> dict[str, Any]:
    async with http.get(f"{bot.url}/api/openapi.json") as response:
        assert response.status == 200
        return await response.json()


def check(document: dict[str, Any], schema: str, value: Any) -> None:
    """Validate a response body against a schema of the served document."""
    validator = Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}"}, resolver=RefResolver.from_schema(document)
    )
    validator.validate(value)


async def post(http: aiohttp.ClientSession, url: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body, **kwargs) as response:
        return response.status, await response.json()


async def test_openapi_document_is_valid_openapi_31_and_describes_every_route(bot, api: aiohttp.ClientSession):
    document = await openapi(api, bot)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/messages",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/conversations/{conversation_id}/ratings",
    }
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # The message limit in the document is the running service's limit.
    assert document["components"]["schemas"]["SendMessage"]["properties"]["text"]["maxLength"] == 4000


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"text": "你好"}, "invalid_request", ["缺少必填字段 user_id", "'user_id' is a required property"]),
        ({"user_id": "u1"}, "invalid_request", ["缺少必填字段 text"]),
        ({"user_id": "u1", "text": ""}, "invalid_request", ["text 不能为空"]),
        ({"user_id": "u1", "text": "长" * 4001}, "invalid_request", ["text 太长", "4000"]),
        ({"user_id": 7, "text": "你好"}, "invalid_request", ["user_id 的类型不对"]),
        (
            {"user_id": "u1", "text": "你好", "conversation_id": "abc"},
            "invalid_request",
            ["conversation_id 的格式不对"],
        ),
        ({"user_id": "u1", "text": "你好", "admin": True}, "invalid_request", ["不认识的字段", "admin"]),
        (["not", "an", "object"], "invalid_request", ["类型不对"]),
    ],
)
async def test_bad_requests_get_400_with_chinese_and_english(bot, api: aiohttp.ClientSession, body, code, words):
    status, answer = await post(api, f"{bot.url}/api/v1/messages", body)
    assert status == 400
    check(await openapi(api, bot), "Error", answer)
    assert answer["error"]["code"] == code
    message = answer["error"]["message"] + " ".join(answer["error"].get("details", []))
    assert " / " in answer["error"]["message"]  # Chinese / English
    for word in words:
        assert word in message


async def test_non_json_bodies(bot, api: aiohttp.ClientSession):
    async with api.post(f"{bot.url}/api/v1/messages", data="user_id=u1&text=hi") as response:
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "unsupported_media_type"
    headers = {"Content-Type": "application/json"}
    async with api.post(f"{bot.url}/api/v1/messages", data='{"user_id": "u1", "text": ', headers=headers) as response:
        assert response.status == 400
        assert "不是合法的 JSON" in (await response.json())["error"]["message"]
    async with api.post(f"{bot.url}/api/v1/messages", data=b"\xff\xfe\x00", headers=headers) as response:
        assert response.status == 400
    big = '{"user_id": "u1", "text": "' + "x" * 200_000 + '"}'
    async with api.post(f"{bot.url}/api/v1/messages", data=big, headers=headers) as response:
        assert response.status == 413
        assert "太大" in (await response.json())["error"]["message"]


async def test_unknown_routes_methods_and_conversations(bot, api: aiohttp.ClientSession):
    async with api.get(f"{bot.url}/api/v2/anything") as response:
        assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"
    async with api.delete(f"{bot.url}/api/v1/messages") as response:
        assert response.status == 405 and (await response.json())["error"]["code"] == "method_not_allowed"
    async with api.get(f"{bot.url}/api/v1/conversations/{'a' * 32}/messages?user_id=u1") as response:
        assert response.status == 404 and (await response.json())["error"]["code"] == "unknown_conversation"
    async with api.get(f"{bot.url}/api/v1/conversations/not-an-id?user_id=u1") as response:
        assert response.status == 400 and "会话编号格式不对" in (await response.json())["error"]["message"]
    status, answer = await post(
        api, f"{bot.url}/api/v1/messages", {"user_id": "u1", "text": "你好", "conversation_id": "b" * 32}
    )
    assert status == 404 and answer["error"]["code"] == "unknown_conversation"


async def test_history_query_parameters_are_validated(bot, api: aiohttp.ClientSession):
    status, sent = await post(api, f"{bot.url}/api/v1/messages", {"user_id": "u-history", "text": "你好"})
    assert status == 200
    base = f"{bot.url}/api/v1/conversations/{sent['conversation_id']}/messages"
    for query, word in (
        ("limit=0", "limit"),
        ("limit=9999", "limit"),
        ("after_seq=-1", "after_seq"),
        ("limit=ten", "整数"),
    ):
        async with api.get(f"{base}?user_id=u-history&{query}") as response:
            assert response.status == 400, query
            assert word in (await response.json())["error"]["message"]


async def test_rasa_down_answers_pending_with_an_apology_and_keeps_the_message(bot, api: aiohttp.ClientSession):
    document = await openapi(api, bot)
    status, answer = await post(api, f"{bot.url}/api/v1/messages", {"user_id": "u-outage", "text": "社保怎么转移？"})
    assert status == 200
    check(document, "SendResult", answer)
    assert answer["status"] == "pending"
    assert [r["text"] for r in answer["replies"]] == [texts.APOLOGY]
    assert answer["message"]["status"] == "pending"
    async with api.get(
        f"{bot.url}/api/v1/conversations/{answer['conversation_id']}/messages?user_id=u-outage"
    ) as response:
        history = await response.json()
    check(document, "History", history)
    assert [m["text"] for m in history["messages"]] == ["社保怎么转移？", texts.APOLOGY]
    async with api.get(f"{bot.url}/api/v1/conversations/{answer['conversation_id']}?user_id=u-outage") as response:
        conversation = await response.json()
    check(document, "Conversation", conversation)
    assert conversation["channel"] == "rest" and conversation["state"] == "bot"


async def test_same_client_id_is_answered_once(bot, api: aiohttp.ClientSession):
    body = {"user_id": "u-idem", "text": "营业执照丢了怎么办", "client_id": uuid.uuid4().hex}
    _, first = await post(api, f"{bot.url}/api/v1/messages", body)
    _, again = await post(api, f"{bot.url}/api/v1/messages", body)
    assert again["status"] == "duplicate" and again["message"]["seq"] == first["message"]["seq"]
    assert [r["seq"] for r in again["replies"]] == [r["seq"] for r in first["replies"]]


async def test_a_user_continues_their_open_conversation_but_not_someone_elses(bot, api: aiohttp.ClientSession):
    _, first = await post(api, f"{bot.url}/api/v1/messages", {"user_id": "u-a", "text": "第一句"})
    _, second = await post(api, f"{bot.url}/api/v1/messages", {"user_id": "u-a", "text": "第二句"})
    assert first["conversation_id"] == second["conversation_id"]
    status, _ = await post(
        api,
        f"{bot.url}/api/v1/messages",
        {"user_id": "u-b", "text": "偷看", "conversation_id": first["conversation_id"]},
    )
    assert status == 404


async def test_ratings_need_an_answer_with_an_entry(bot, api: aiohttp.ClientSession):
    _, sent = await post(api, f"{bot.url}/api/v1/messages", {"user_id": "u-rate", "text": "你好"})
    url = f"{bot.url}/api/v1/conversations/{sent['conversation_id']}/ratings"
    status, answer = await post(api, url, {"user_id": "u-rate", "seq": sent["replies"][0]["seq"], "value": "good"})
    assert status == 400 and texts.NOTHING_TO_RATE in answer["error"]["message"]
    status, answer = await post(api, url, {"user_id": "u-rate", "seq": 1, "value": "so-so"})
    assert status == 400 and "value" in answer["error"]["message"]


async def test_calls_need_a_calling_apps_key(bot, http: aiohttp.ClientSession):
    body = {"user_id": "u1", "text": "你好"}
    status, answer = await post(http, f"{bot.url}/api/v1/messages", body)
    assert status == 401 and "API 密钥" in answer["error"]["message"]
    status, _ = await post(http, f"{bot.url}/api/v1/messages", body, headers={"Authorization": "Bearer wrong"})
    assert status == 401
    status, _ = await post(http, f"{bot.url}/api/v1/messages", body, headers=bot.api_key("portal"))
    assert status == 200
    assert {"bearer": []} in (await openapi(http, bot))["security"]


async def test_requests_per_client_are_limited(start_bot: StartBot, http: aiohttp.ClientSession):
    bot = await start_bot(rasa_url=nobody_listening(), api_rate=0.2, api_burst=2, api_key_rate=0.2, api_key_burst=2)
    statuses = []
    headers = bot.api_key("tests")
    for _ in range(4):
        async with http.get(f"{bot.url}/api/v1/conversations/{'c' * 32}?user_id=u1", headers=headers) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert "请求太频繁" in (await response.json())["error"]["message"]
    assert statuses[:2] == [404, 404] and 429 in statuses[2:]


async def test_a_calling_app_with_a_key_is_limited_by_its_key_not_its_address(
    start_bot: StartBot, http: aiohttp.ClientSession
):
    # A portal backend sends for all its citizens from one address: the address's limit (2) must
    # not throttle it; its own key's limit (6) does.  Without the key it is one anonymous caller.
    bot = await start_bot(rasa_url=nobody_listening(), api_rate=0.1, api_burst=2, api_key_rate=0.1, api_key_burst=6)
    key = bot.api_key("portal")
    keyed = []
    for i in range(8):
        body = {"user_id": f"citizen-{i}", "text": "你好"}
        status, _ = await post(http, f"{bot.url}/api/v1/messages", body, headers=key)
        keyed.append(status)
    assert keyed[:6] == [200] * 6 and keyed[6:] == [429, 429]
    anonymous = []
    for _ in range(3):
        async with http.get(f"{bot.url}/api/v1/conversations/{'c' * 32}?user_id=u1") as response:
            anonymous.append(response.status)
    assert anonymous == [401, 401, 429]  # its own bucket, which the keyed calls did not use up


async def test_one_citizen_cannot_flood_the_others_of_the_same_app(start_bot: StartBot, http: aiohttp.ClientSession):
    bot = await start_bot(rasa_url=nobody_listening(), api_rate=100, api_burst=100, api_user_rate=0.1, api_user_burst=3)
    key = bot.api_key("portal")
    loud = [
        (await post(http, f"{bot.url}/api/v1/messages", {"user_id": "loud", "text": f"第{i}条"}, headers=key))[0]
        for i in range(5)
    ]
    assert loud[:3] == [200, 200, 200] and loud[3:] == [429, 429]
    status, body = await post(http, f"{bot.url}/api/v1/messages", {"user_id": "quiet", "text": "你好"}, headers=key)
    assert status == 200, body
