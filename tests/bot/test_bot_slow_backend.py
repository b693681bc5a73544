"""A slow assistant, for real: the action server process is frozen (SIGSTOP) and thawed (SIGCONT).

Rasa keeps waiting for the frozen action server, so the bot service's request hangs exactly as it
would on an overloaded machine.  The citizen must get the apology quickly and the answer later.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import psutil
import pytest
from bot_helpers import ConnectWidget, StartBot

from bot import texts
from bot.conversations import Status

pytestmark = pytest.mark.rasa

QUESTION = "个体工商户设立登记要带什么材料？"


def listening_pid(port: int) -> int:
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return connection.pid
    raise LookupError(f"nothing listens on port {port}")


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_slow_action_server_apology_first_answer_later(
    start_bot: StartBot, connect_widget: ConnectWidget, rasa_stack
):
    bot = await start_bot(rasa_url=rasa_stack.rasa_url, apology_after=2.0, rasa_timeout=120.0)
    client = await connect_widget(bot)
    await client.hello()
    action_port = int(rasa_stack.action_url.rsplit(":", 1)[1])
    with frozen(listening_pid(action_port)):
        ack = await client.say(QUESTION)
        assert (await client.next("typing"))["on"] is True  # "助手正在输入…" while the answer is slow
        [apology] = await client.bot_messages(1)
        assert apology["text"] == texts.APOLOGY and apology["reply_to"] == ack["seq"]
        assert (await bot.store.get_message(ack["seq"])).status == Status.PENDING
        second = await client.say("那要多少钱？")
        [queued] = await client.bot_messages(1)
        assert queued["text"] == texts.STILL_QUEUED and queued["reply_to"] == second["seq"]
    # Thawed: the same request completes; no second apology, the answer arrives on the open socket.
    replies = await client.answer_to(ack["seq"], timeout=120)
    assert replies[0]["text"].startswith("系统已恢复")
    assert any(r.get("entry") and r["entry"]["id"] == "guide.individual-business-registration" for r in replies)
    replies = await client.answer_to(second["seq"], timeout=120)
    assert any(r.get("entry") and r["entry"]["element"] == "fee" for r in replies)
    assert sum(1 for m in await bot.store.history(client.conversation_id) if m.text == texts.APOLOGY) == 1
    assert {"type": "typing", "on": False} in client.frames
