"""Issue #14, finding 8: a Telegram send that keeps failing is retried with a growing wait, a
limited number of times, then listed as a dead letter for admins; a webhook update whose chat.id
is not an integer is refused."""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import aiohttp
import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parent / "bot", HERE.parent / "helpdesk"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from desk_helpers import HelperClient, add_helper  # noqa: E402

from bot import service as service_module  # noqa: E402
from connectors.telegram import WEBHOOK_PATH, WEBHOOK_SECRET  # noqa: E402


@pytest.fixture
async def telegram_bot(start_telegram_bot):
    # Rasa down: every text gets the apology, an answer to deliver; retries 20 times faster than the default.
    return await start_telegram_bot(retry_interval=0.05)


async def test_a_failing_send_backs_off_stops_and_is_a_dead_letter(telegram_bot, standin, monkeypatch):
    monkeypatch.setattr(service_module, "DELIVERY_ATTEMPTS", 5)
    standin.unreachable_chats.add(8801)
    await standin.user_sends(8801, "你好")
    await asyncio.sleep(0.05 * (2 + 4 + 8 + 16) + 3)  # the whole backoff and then some
    tries = [at for chat, at in standin.refused_sends if chat == 8801]
    assert len(tries) == 5  # a limit, not every 2 s forever
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps  # growing waits
    await asyncio.sleep(0.5)
    assert len([chat for chat, _ in standin.refused_sends if chat == 8801]) == 5  # and then no more

    add_helper(telegram_bot, "admin1", role="admin")
    add_helper(telegram_bot, "helper1", role="helper")
    admin = await HelperClient.login(telegram_bot, "admin1")
    helper = await HelperClient.login(telegram_bot, "helper1")
    try:
        async with admin.http.get(telegram_bot.url + "/api/admin/dead-letters") as response:
            assert response.status == 200
            items = (await response.json())["items"]
        assert [item["channel"] for item in items] == ["telegram"] and items[0]["attempts"] == 5
        async with helper.http.get(telegram_bot.url + "/api/admin/dead-letters") as response:
            assert response.status == 403
    finally:
        await admin.close()
        await helper.close()


@pytest.mark.parametrize("chat_id", ["8802", 88.5, None, True, {"id": 1}])
async def test_webhook_refuses_a_chat_id_that_is_not_an_integer(telegram_bot, standin, chat_id):
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 8802, "is_bot": False, "first_name": "x"},
            "text": "你好",
        },
    }
    secret = {"X-Telegram-Bot-Api-Secret-Token": telegram_bot.app[WEBHOOK_SECRET]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{telegram_bot.url}{WEBHOOK_PATH}", json=update, headers=secret) as response:
            assert 400 <= response.status < 500
    assert await telegram_bot.store.find_open_conversation("telegram", str(chat_id)) is None
