"""Input hygiene at the edge (issue #14, findings 4, 5 and 10): invalid Unicode, NUL, text with
nothing visible, integers past SQLite's 2^63, 100,000 '[' and gzip that is not gzip get a clear
4xx with a JSON error in Chinese on every entry point (REST, login, Telegram webhook), and an
error frame on the widget's websocket, which stays open.  Before: 500s, and an HTTP 500 written
onto the upgraded widget socket (close 1002)."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import aiohttp
import pytest
from bot_helpers import StartBot, WidgetClient, nobody_listening

from connectors.telegram import WEBHOOK_PATH, WEBHOOK_SECRET

SURROGATE = "\ud83d你好"  # a lone high surrogate, as a JSON escape: valid JSON, not valid Unicode
BIG = 2**63
DEEP = "[" * 100_000
NOT_GZIP = b"this is not gzip at all"


@pytest.fixture
async def bot(start_bot: StartBot):
    return await start_bot(rasa_url=nobody_listening(), apology_after=0.3, ws_burst=50)


def raw(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: the surrogate travels as \ud83d


async def refused(
    http: aiohttp.ClientSession, method: str, url: str, status: int | None = None, **kwargs: Any
) -> dict[str, Any]:
    """The request gets a 4xx (`status`, when given) whose body is a JSON error with a Chinese message."""
    async with http.request(method, url, **kwargs) as response:
        assert 400 <= response.status < 500, (url, response.status, await response.text())
        assert status is None or response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
    message = body["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    return body


JSON = {"Content-Type": "application/json"}


async def test_rest_refuses_what_it_cannot_store(bot, http: aiohttp.ClientSession):
    key = bot.api_key("portal")
    headers = {**key, **JSON}
    send = f"{bot.url}/api/v1/messages"
    for text, code in (
        (SURROGATE, "bad_unicode"),
        ("你好\x00", "nul_character"),
        ("\u200b\u200c\u200d\ufeff", "empty"),
        ("\x01\x02\x7f", "empty"),
    ):
        body = await refused(http, "POST", send, data=raw({"user_id": "u1", "text": text}), headers=headers)
        assert body["error"]["code"] in (code, "invalid_request"), body
    body = await refused(http, "POST", send, data=raw({"user_id": SURROGATE, "text": "你好"}), headers=headers)
    assert body["error"]["code"] == "bad_unicode"
    body = await refused(http, "POST", send, data=DEEP, headers=headers)
    assert body["error"]["code"] == "too_deep"
    body = await refused(http, "POST", send, data=NOT_GZIP, headers={**headers, "Content-Encoding": "gzip"})
    assert body["error"]["code"] == "bad_encoding"
    # Numbers past what SQLite holds.
    async with http.post(send, json={"user_id": "u1", "text": "你好"}, headers=key) as response:
        sent = await response.json()
    base = f"{bot.url}/api/v1/conversations/{sent['conversation_id']}"
    await refused(http, "POST", f"{base}/ratings", json={"user_id": "u1", "seq": BIG, "value": "good"}, headers=key)
    await refused(http, "POST", f"{base}/ratings", json={"user_id": "u1", "seq": BIG - 1, "value": "good"}, headers=key)
    await refused(http, "GET", f"{base}/messages?user_id=u1&after_seq={BIG}", headers=key)
    await refused(http, "GET", f"{base}/messages?user_id=u1&after_seq={10**30}", headers=key)
    async with http.get(f"{base}/messages?user_id=u1&after_seq={BIG - 1}", headers=key) as response:
        assert response.status == 200 and (await response.json())["messages"] == []
    await refused(http, "GET", f"{base}/messages?user_id=%ED%A0%BD", headers=key)  # an encoded surrogate
    # Nothing of it was stored.
    rows = bot.store.db.execute("SELECT text FROM messages WHERE direction = 'in'").fetchall()
    assert [row[0] for row in rows] == ["你好"]


async def test_login_refuses_bad_bodies_with_4xx(bot, http: aiohttp.ClientSession):
    login = f"{bot.url}/api/helpdesk/login"
    assert (await refused(http, "POST", login, data=DEEP, headers=JSON))["error"]["code"] == "too_deep"
    body = await refused(http, "POST", login, data=NOT_GZIP, headers={**JSON, "Content-Encoding": "gzip"})
    assert body["error"]["code"] == "bad_encoding"
    body = await refused(http, "POST", login, data=raw({"name": SURROGATE, "password": "x" * 12}), headers=JSON)
    assert body["error"]["code"] == "bad_unicode"
    body = await refused(http, "POST", login, data=raw({"name": "a\x00", "password": "x" * 12}), headers=JSON)
    assert body["error"]["code"] == "nul_character"


async def test_telegram_webhook_refuses_bad_bodies_with_4xx(telegram_bot, http: aiohttp.ClientSession):
    url = f"{telegram_bot.url}{WEBHOOK_PATH}"
    secret = {"X-Telegram-Bot-Api-Secret-Token": telegram_bot.app[WEBHOOK_SECRET], **JSON}
    assert (await refused(http, "POST", url, data=DEEP, headers=secret))["error"]["code"] == "too_deep"
    body = await refused(http, "POST", url, data=NOT_GZIP, headers={**secret, "Content-Encoding": "gzip"})
    assert body["error"]["code"] == "bad_encoding"
    update = {
        "update_id": 9,
        "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 7, "type": "private"}, "text": SURROGATE},
    }
    assert (await refused(http, "POST", url, data=raw(update), headers=secret))["error"]["code"] == "bad_unicode"
    async with http.get(f"{telegram_bot.url}/healthz") as response:
        assert response.status == 200


async def test_the_widget_socket_answers_bad_frames_and_stays_open(bot, http: aiohttp.ClientSession):
    client = WidgetClient(await http.ws_connect(bot.ws_url))
    welcome = await client.hello(after_seq=BIG)  # a too-large after_seq is read as "from the start"
    assert welcome["conversation_id"]
    for frame, code in (
        ({"type": "message", "client_id": "c-surrogate-1", "text": SURROGATE}, "bad_unicode"),
        ({"type": "message", "client_id": "c-nul-00001", "text": "你好\x00"}, "nul_character"),
        ({"type": "message", "client_id": "c-zerowidth1", "text": "\u200b\u2060\ufeff"}, "empty"),
        ({"type": "rate", "client_id": "c-bigseq-001", "seq": BIG, "value": "good"}, "not_ratable"),
    ):
        await client.ws.send_str(json.dumps(frame))
        error = await client.next("error", "ack")
        assert error["type"] == "error" and error["code"] == code, error
        assert error["client_id"] == frame["client_id"]  # so the widget can drop exactly that one
        assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    await client.ws.send_str(DEEP[:60_000])
    assert (await client.next("error"))["code"] == "too_deep"
    await client.ws.send_str(json.dumps({"type": "hello", "conversation_id": SURROGATE}))
    await client.next("error", "welcome")
    # Still open and serving.
    await client.ws.send_json({"type": "ping"})
    assert (await client.next("pong"))["type"] == "pong"
    ack = await client.say("你好")
    assert ack["type"] == "ack"
    assert not client.ws.closed


async def test_content_encodings(bot, http: aiohttp.ClientSession):
    """Compressed bodies are read when they are what they say, refused in JSON when not."""
    key = {**bot.api_key("portal"), **JSON}
    send = f"{bot.url}/api/v1/messages"
    body = raw({"user_id": "u1", "text": "营业执照怎么办"})
    for coding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        async with http.post(send, data=data, headers={**key, "Content-Encoding": coding}) as response:
            assert response.status == 200, await response.text()
    for coding, status, code in (
        ("deflate", 400, "bad_encoding"),
        ("br", 415, "unsupported_encoding"),
        ("x-unknown", 415, "unsupported_encoding"),
    ):
        async with aiohttp.ClientSession() as fresh:  # aiohttp may drop the connection after a bad body
            headers = {**key, "Content-Encoding": coding}
            answer = await refused(fresh, "POST", send, status, data=NOT_GZIP, headers=headers)
        assert answer["error"]["code"] == code
    bomb = gzip.compress(b" " * 50_000_000)  # 50 MB of spaces in 50 KB
    answer = await refused(http, "POST", send, 413, data=bomb, headers={**key, "Content-Encoding": "gzip"})
    assert answer["error"]["code"] == "too_large"
