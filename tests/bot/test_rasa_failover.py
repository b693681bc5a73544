"""bot.rasa_client with several Rasa instances (RASA_URL comma-separated): each conversation goes
to its preferred instance, fails over to another while that one is down, and goes back once it
answers again.

Rasa is the real one (the session's `rasa_stack`).  "Instance A" is a plain pass-through link to it
on its own port that the test opens and closes, so A can be down (nothing listens: connection
refused, as after kill -9) and back without imitating Rasa; "instance B" is Rasa's own port.  The
link counts the messages that went through A.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from bot_helpers import free_port, nobody_listening

from bot.rasa_client import RasaClient, RasaUnavailableError, instance_urls, preferred_order

pytestmark = pytest.mark.rasa


class Link:
    """Passes every request on to Rasa; `open()`/`close()` make the instance up or down."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.messages = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/webhooks/rest/webhook":
            self.messages += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        async with (
            aiohttp.ClientSession() as http,
            http.request(request.method, self.rasa_url + request.path_qs, data=body, headers=headers) as response,
        ):
            return web.Response(body=await response.read(), status=response.status, content_type="application/json")

    async def open(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
async def link(rasa_stack) -> AsyncIterator[Link]:  # type: ignore[no-untyped-def]
    running = Link(rasa_stack.rasa_url)
    yield running
    await running.close()


def _sender_preferring(index: int, count: int = 2) -> str:
    return next(f"failover-{n}" for n in range(1000) if preferred_order(f"failover-{n}", count)[0] == index)


def test_the_preferred_instance_is_stable_and_spread() -> None:
    senders = [f"c{n}" for n in range(400)]
    first = [preferred_order(s, 2)[0] for s in senders]
    assert first == [preferred_order(s, 2)[0] for s in senders]  # the same every time (no salted hash)
    assert 150 < first.count(0) < 250  # both instances get conversations
    assert all(sorted(preferred_order(s, 3)) == [0, 1, 2] for s in senders)  # every instance is tried once
    assert instance_urls(" http://a:1/, http://b:2 ") == ["http://a:1", "http://b:2"]


async def test_a_conversation_fails_over_and_comes_back(
    rasa_stack, link: Link, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    sender = _sender_preferring(0)
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"{link.url},{rasa_stack.rasa_url}", action_url=rasa_stack.action_url)

        # A is down (nothing listens): the message goes to B, the service still answers and is ready.
        with caplog.at_level(logging.INFO, logger="bot.rasa_client"):
            replies = await rasa.send(sender, "你好", {"message_id": "m1", "retry": False})
        assert replies and link.messages == 0
        assert any(r.getMessage() == "rasa.failover" for r in caplog.records)
        health = await rasa.health()
        assert health["rasa"] == "ok" and health["rasa_instances"] == "1/2"
        assert await rasa.is_ready()

        # A is back: the conversation returns to it.
        await link.open()
        replies = await rasa.send(sender, "社保卡丢了怎么补办", {"message_id": "m2", "retry": False})
        assert replies and link.messages == 1
        assert (await rasa.health())["rasa_instances"] == "2/2"

        # A conversation that prefers B never touches A.
        await rasa.send(_sender_preferring(1), "你好", {"message_id": "m3", "retry": False})
        assert link.messages == 1

        # Both down: the message waits in the bot service (RasaUnavailableError), not lost.
        await link.close()
        nobody = RasaClient(http, f"{link.url},{nobody_listening()}")
        with pytest.raises(RasaUnavailableError):
            await nobody.send(sender, "在哪里办", {"message_id": "m4", "retry": False})
        assert (await nobody.health())["rasa"] == "unreachable"
        assert not await nobody.is_ready()

    # The two turns that went to different instances are one conversation, in order (shared tracker).
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_stack.rasa_url}/conversations/{sender}/tracker") as response:
            events = (await response.json())["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["你好", "社保卡丢了怎么补办"]


async def test_the_service_is_ready_while_one_instance_is_down(rasa_stack, start_bot, http) -> None:  # type: ignore[no-untyped-def]
    bot = await start_bot(rasa_url=f"{nobody_listening()},{rasa_stack.rasa_url}")
    async with http.get(f"{bot.url}/readyz") as response:
        assert response.status == 200
        assert (await response.json()) == {"status": "ready", "rasa": "ok", "rasa_instances": "1/2"}
    both_down = await start_bot(rasa_url=f"{nobody_listening()},{nobody_listening()}")
    async with http.get(f"{both_down.url}/readyz") as response:
        assert response.status == 503
        assert (await response.json())["rasa"] == "unreachable"
