"""Issue #14, finding 6: helpers see a citizen's raw numbers only in a conversation they hold; the
REST conversation's external id is a keyed pseudonym, never the app's user_id (often a phone)."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parent / "bot", HERE.parent / "helpdesk"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from desk_helpers import HelperClient, add_helper, bots_stopped_afterwards, nobody_listening, rest_app  # noqa: E402

from bot.conversations import State  # noqa: E402

ID = "370125199001011234"
MOBILE = "13812345678"
SAID = f"我的身份证{ID}，电话{MOBILE}，转人工"


@pytest.fixture
async def desk(tmp_path: Path):
    async with bots_stopped_afterwards(tmp_path, helpdesk_hours="always", api_rate=200.0, api_burst=400) as start:
        bot = await start(rasa_url=nobody_listening())
        for name, role in (("alice", "helper"), ("bob", "helper"), ("root", "admin")):
            add_helper(bot, name, role)
        clients = {name: await HelperClient.login(bot, name) for name in ("alice", "bob", "root")}
        yield bot, clients
        for client in clients.values():
            await client.close()


async def _citizen_waits(bot, portal: dict[str, str]) -> str:
    async with aiohttp.ClientSession(headers=portal) as http:
        body = {"user_id": MOBILE, "text": SAID}
        async with http.post(bot.url + "/api/v1/messages", json=body) as response:
            assert response.status == 200
            conversation_id = (await response.json())["conversation_id"]
    await bot.store.set_state(conversation_id, State.WAITING_HELPER)
    return conversation_id


async def test_the_queue_and_a_waiting_transcript_are_masked_for_every_helper(desk) -> None:
    bot, helpers = desk
    conversation_id = await _citizen_waits(bot, rest_app(bot, MOBILE)[0])
    for name in ("alice", "bob", "root"):
        status, queue = await helpers[name].get("/queue")
        assert status == 200 and conversation_id in str(queue)
        assert ID not in str(queue) and MOBILE not in str(queue), name
        status, transcript = await helpers[name].get(f"/conversations/{conversation_id}")
        assert status == 200 and ID not in str(transcript) and MOBILE not in str(transcript), name

    # alice takes it: now she (only she) reads the citizen's words as typed.
    assert (await helpers["alice"].post(f"/conversations/{conversation_id}/claim"))[0] == 200
    transcript = (await helpers["alice"].get(f"/conversations/{conversation_id}"))[1]
    assert SAID in [m["text"] for m in transcript["messages"]]
    status, other = await helpers["root"].get(f"/conversations/{conversation_id}")  # an admin reading along
    assert status == 200 and ID not in str(other) and MOBILE not in str(other)
    status, _ = await helpers["bob"].get(f"/conversations/{conversation_id}")
    assert status == 403


async def test_the_conversation_never_stores_the_phone_used_as_user_id(desk) -> None:
    bot, _ = desk
    portal, _ = rest_app(bot, MOBILE)  # a calling app whose user_id is the citizen's phone
    conversation_id = await _citizen_waits(bot, portal)
    row = bot.store.db.execute(
        "SELECT external_id, citizen FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    assert MOBILE not in row[0] and MOBILE not in row[1]
    assert row[0].startswith("h:")
    # …and the same app user still finds the same conversation.
    async with aiohttp.ClientSession(headers=portal) as http:
        body = {"user_id": MOBILE, "text": "还在吗"}
        async with http.post(bot.url + "/api/v1/messages", json=body) as response:
            assert (await response.json())["conversation_id"] == conversation_id
