"""The widget websocket's Origin allow-list (issue #14, finding 9): by default only pages of the
service's own origin may open it (before: any Origin); BOT_ALLOWED_ORIGINS names the portals."""

from __future__ import annotations

import aiohttp
import pytest
from bot_helpers import StartBot, nobody_listening

EVIL = "https://evil.example"
PORTAL = "https://www.jiyang.gov.cn"


async def opens(http: aiohttp.ClientSession, bot, origin: str | None) -> bool:
    headers = {"Origin": origin} if origin else {}
    try:
        ws = await http.ws_connect(bot.ws_url, headers=headers)
    except aiohttp.WSServerHandshakeError as err:
        assert err.status == 403
        return False
    await ws.close()
    return True


async def test_default_is_the_serving_origin_only(start_bot: StartBot, http: aiohttp.ClientSession):
    bot = await start_bot(rasa_url=nobody_listening())
    assert await opens(http, bot, bot.url)  # the demo page and any page served by the service itself
    assert await opens(http, bot, None)  # not a browser page: nothing to forge
    assert not await opens(http, bot, EVIL)
    assert not await opens(http, bot, PORTAL)
    async with http.get(bot.url + "/ws", headers={"Origin": EVIL}) as response:
        assert response.status == 403
        body = await response.json()
    assert body["error"]["code"] == "origin_not_allowed" and "网站" in body["error"]["message"]


@pytest.mark.parametrize(
    ("allowed", "portal", "evil"),
    [((PORTAL,), True, False), ((PORTAL + "/", "https://b.example"), True, False), (("*",), True, True)],
)
async def test_allowed_origins_setting(start_bot: StartBot, http: aiohttp.ClientSession, allowed, portal, evil):
    bot = await start_bot(rasa_url=nobody_listening(), allowed_origins=allowed)
    assert await opens(http, bot, PORTAL) is portal
    assert await opens(http, bot, EVIL) is evil
    assert await opens(http, bot, bot.url)
