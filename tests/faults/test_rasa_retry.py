"""Issue #14, finding 7: when the bot service gives up waiting for Rasa and sends the message again,
Rasa must not record the citizen's turn twice.

The Rasa here is the real one (the session's `rasa_stack`); between it and the bot service sits a
slow link: it passes every request on, but holds back Rasa's first answer to each message longer
than the bot service waits (BOT_RASA_TIMEOUT).  Rasa has by then recorded the turn; the bot service
counts the call as failed and retries.  The retry must be answered from the tracker, not handled as
a second identical turn.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "bot") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "bot"))

from bot_helpers import bots_stopped_afterwards, free_port  # noqa: E402

from bot.conversations import Direction, Kind, Status  # noqa: E402

pytestmark = pytest.mark.rasa

RASA_TIMEOUT = 4.0


class SlowLink:
    """A reverse proxy to Rasa that delays the first reply to each message id past the bot's timeout."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.held: list[str] = []
        self.calls: list[tuple[str, bool]] = []  # (message id, retry flag) per webhook call
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                self.rasa_url + request.path_qs,
                data=body,
                headers={k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")},
            ) as response,
        ):
            payload = await response.read()
            status = response.status
        if request.path == "/webhooks/rest/webhook":
            metadata = (await request.json()).get("metadata") or {}
            message_id = metadata.get("message_id", "")
            self.calls.append((message_id, bool(metadata.get("retry"))))
            if message_id not in self.held:
                self.held.append(message_id)
                await asyncio.sleep(RASA_TIMEOUT + 2)  # Rasa answered; the bot service stopped waiting
        return web.Response(body=payload, status=status, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def slow_link(rasa_stack) -> AsyncIterator[SlowLink]:
    link = SlowLink(rasa_stack.rasa_url)
    await link.start()
    yield link
    await link.stop()


async def test_a_retry_after_a_timeout_is_not_a_second_turn(rasa_stack, slow_link, tmp_path: Path) -> None:
    async with bots_stopped_afterwards(tmp_path) as start:
        bot = await start(
            rasa_url=f"http://127.0.0.1:{slow_link.port}",
            rasa_timeout=RASA_TIMEOUT,
            apology_after=1.0,
            retry_interval=0.3,
            retry_max_backoff=1.0,
        )
        conversation = await bot.service.open_conversation("rest", "h:retry-test")
        receipt = await bot.service.receive(conversation, "社保卡丢了怎么补办")
        seq = receipt.message.seq
        for _ in range(200):
            message = await bot.store.get_message(seq)
            if message.status == Status.ANSWERED:
                break
            await asyncio.sleep(0.2)
        assert message.status == Status.ANSWERED
        assert message.attempts >= 1  # the first call did time out
        assert (f"jsb-{seq}", True) in slow_link.calls  # and was retried

        history = await bot.store.history(conversation.id)
        answers = [m for m in history if m.direction == Direction.OUT and m.reply_to == seq and m.kind == Kind.TEXT]
        assert answers, [m.text for m in history]

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{rasa_stack.rasa_url}/conversations/{conversation.id}/tracker") as response,
    ):
        tracker = await response.json()
    turns = [event for event in tracker["events"] if event["event"] == "user"]
    assert len(turns) == 1, [event.get("text") for event in turns]
