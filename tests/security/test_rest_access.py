"""REST access model (issue #14, finding 1): every call is made by a calling app with a key; a
conversation belongs to (app, citizen) and nobody else can read or continue it.

Before this, the API was open by default and `POST /api/v1/messages` with another citizen's
`user_id` returned their conversation id, whose history then read back their 身份证号.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from bot_helpers import REPO, StartBot, nobody_listening

ID_NUMBER = "370125199001011234"


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with http.request(method, url, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


@pytest.fixture
async def bot(start_bot: StartBot):
    return await start_bot(rasa_url=nobody_listening(), apology_after=0.3)


def assert_chinese_error(body: dict[str, Any]) -> None:
    message = body["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


async def test_no_key_no_call_by_default(bot, http: aiohttp.ClientSession):
    conversation = "a" * 32
    for method, path, kwargs in (
        ("POST", "/api/v1/messages", {"json": {"user_id": "u1", "text": "你好"}}),
        ("GET", f"/api/v1/conversations/{conversation}?user_id=u1", {}),
        ("GET", f"/api/v1/conversations/{conversation}/messages?user_id=u1", {}),
        (
            "POST",
            f"/api/v1/conversations/{conversation}/ratings",
            {"json": {"user_id": "u1", "seq": 1, "value": "good"}},
        ),
    ):
        for headers in ({}, {"Authorization": "Bearer jsb_wrong"}, {"X-API-Key": "not-a-key"}):
            status, body = await call(http, method, bot.url + path, headers=headers, **kwargs)
            assert status == 401, (method, path, headers)
            assert body["error"]["code"] == "unauthorized"
            assert_chinese_error(body)
    # The document itself stays readable, and says how to authenticate.
    status, document = await call(http, "GET", bot.url + "/api/openapi.json")
    assert status == 200 and {"bearer": []} in document["security"]


async def test_keys_are_stored_only_as_hashes_and_work_in_either_header(bot, http: aiohttp.ClientSession):
    headers = bot.api_key("portal")
    key = headers["Authorization"].removeprefix("Bearer ")
    status, _ = await call(
        http, "POST", bot.url + "/api/v1/messages", json={"user_id": "u1", "text": "你好"}, headers=headers
    )
    assert status == 200
    status, _ = await call(
        http, "POST", bot.url + "/api/v1/messages", json={"user_id": "u1", "text": "你好"}, headers={"X-API-Key": key}
    )
    assert status == 200
    with sqlite3.connect(bot.config.database) as db:
        dump = "\n".join(db.iterdump())
    assert key not in dump and key[8:] not in dump


async def test_another_app_cannot_read_or_continue_a_conversation(bot, http: aiohttp.ClientSession):
    portal, other = bot.api_key("portal"), bot.api_key("other-app")
    status, sent = await call(
        http,
        "POST",
        bot.url + "/api/v1/messages",
        json={"user_id": "13800138000", "text": f"我的身份证号{ID_NUMBER}"},
        headers=portal,
    )
    assert status == 200
    conversation = sent["conversation_id"]
    base = f"{bot.url}/api/v1/conversations/{conversation}"
    # The owner reads its own conversation.
    status, history = await call(http, "GET", f"{base}/messages?user_id=13800138000", headers=portal)
    assert status == 200 and history["messages"]
    # The same user_id from another app is another citizen: nothing to read, continue or rate.
    for method, url, kwargs in (
        ("GET", f"{base}?user_id=13800138000", {}),
        ("GET", f"{base}/messages?user_id=13800138000", {}),
        (
            "POST",
            f"{bot.url}/api/v1/messages",
            {"json": {"user_id": "13800138000", "text": "继续", "conversation_id": conversation}},
        ),
        ("POST", f"{base}/ratings", {"json": {"user_id": "13800138000", "seq": 1, "value": "bad"}}),
    ):
        status, body = await call(http, method, url, headers=other, **kwargs)
        assert status == 404, (method, url)
        assert body["error"]["code"] == "unknown_conversation" and ID_NUMBER not in str(body)
        assert_chinese_error(body)
    # And sending with that user_id opens the other app's own, new conversation.
    status, fresh = await call(
        http, "POST", bot.url + "/api/v1/messages", json={"user_id": "13800138000", "text": "你好"}, headers=other
    )
    assert status == 200 and fresh["conversation_id"] != conversation


async def test_another_citizen_of_the_same_app_cannot_read_or_continue(bot, http: aiohttp.ClientSession):
    portal = bot.api_key("portal")
    _, sent = await call(
        http, "POST", bot.url + "/api/v1/messages", json={"user_id": "citizen-a", "text": ID_NUMBER}, headers=portal
    )
    conversation = sent["conversation_id"]
    base = f"{bot.url}/api/v1/conversations/{conversation}"
    for method, url, kwargs in (
        ("GET", f"{base}?user_id=citizen-b", {}),
        ("GET", f"{base}/messages?user_id=citizen-b", {}),
        (
            "POST",
            f"{bot.url}/api/v1/messages",
            {"json": {"user_id": "citizen-b", "text": "偷看", "conversation_id": conversation}},
        ),
        ("POST", f"{base}/ratings", {"json": {"user_id": "citizen-b", "seq": 1, "value": "bad"}}),
    ):
        status, body = await call(http, method, url, headers=portal, **kwargs)
        assert status == 404, (method, url)
        assert ID_NUMBER not in str(body)
    # Reading without saying whose conversation it is is a 400, not a read.
    status, body = await call(http, "GET", f"{base}/messages", headers=portal)
    assert status == 400 and "user_id" in body["error"]["message"]


async def test_conversation_ids_are_unguessable(bot, http: aiohttp.ClientSession):
    portal = bot.api_key("portal")
    ids = set()
    for number in range(20):
        _, sent = await call(
            http, "POST", bot.url + "/api/v1/messages", json={"user_id": f"c{number}", "text": "你好"}, headers=portal
        )
        ids.add(sent["conversation_id"])
    assert len(ids) == 20
    # 128-bit random ids (uuid4: 122 random bits): no two share a long prefix, none is sequential.
    as_ints = sorted(int(i, 16) for i in ids)
    assert min(b - a for a, b in itertools.pairwise(as_ints)) > 2**64


async def test_rotate_and_revoke_with_the_cli(bot, http: aiohttp.ClientSession):
    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot.apikeys", "--db", str(bot.config.database), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    body = {"user_id": "u1", "text": "你好"}
    first = cli("create", "portal", "--quiet")
    assert first.startswith("jsb_")
    status, _ = await call(http, "POST", bot.url + "/api/v1/messages", json=body, headers={"X-API-Key": first})
    assert status == 200
    second = cli("rotate", "portal", "--quiet")
    status, _ = await call(http, "POST", bot.url + "/api/v1/messages", json=body, headers={"X-API-Key": first})
    assert status == 401
    status, _ = await call(http, "POST", bot.url + "/api/v1/messages", json=body, headers={"X-API-Key": second})
    assert status == 200
    listing = cli("list")
    assert "portal" in listing and second not in listing and second[:8] in listing
    assert "revoked 1 key" in cli("revoke", "portal")
    status, _ = await call(http, "POST", bot.url + "/api/v1/messages", json=body, headers={"X-API-Key": second})
    assert status == 401
    help_text = cli("--help")
    assert "create" in help_text and "rotate" in help_text and "BOT_REST_DEV_OPEN" in help_text


async def test_dev_open_mode_lets_keyless_calls_in_but_still_refuses_wrong_keys(
    start_bot: StartBot, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level("WARNING"):
        bot = await start_bot(rasa_url=nobody_listening(), apology_after=0.3, rest_dev_open=True)
    assert any("BOT_REST_DEV_OPEN" in record.getMessage() for record in caplog.records)
    status, sent = await call(http, "POST", bot.url + "/api/v1/messages", json={"user_id": "u1", "text": "你好"})
    assert status == 200
    status, _ = await call(
        http,
        "GET",
        f"{bot.url}/api/v1/conversations/{sent['conversation_id']}?user_id=u1",
        headers={"Authorization": "Bearer jsb_wrong"},
    )
    assert status == 401
    # A real app's conversations stay its own, also in dev mode.
    portal = bot.api_key("portal")
    _, owned = await call(
        http, "POST", bot.url + "/api/v1/messages", json={"user_id": "u1", "text": "你好"}, headers=portal
    )
    status, _ = await call(http, "GET", f"{bot.url}/api/v1/conversations/{owned['conversation_id']}?user_id=u1")
    assert status == 404


def test_old_plain_keys_setting_is_refused_with_directions():
    from bot.config import BotConfig, ConfigError

    with pytest.raises(ConfigError, match=r"python -m bot\.apikeys create"):
        BotConfig.load(env={"BOT_API_KEYS": "k1"})
