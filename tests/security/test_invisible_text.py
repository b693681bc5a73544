"""Issue #14, finding 10: text made only of zero-width characters or NUL is not a message; the
conversation layer refuses it for every channel (here the service itself and Telegram end to end)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "bot") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "bot"))

from bot_helpers import bots_stopped_afterwards, nobody_listening  # noqa: E402

from bot import texts  # noqa: E402
from bot.service import InputError  # noqa: E402

INVISIBLE = ["\u200b", "\u200b\u200c\u200d", "\x00", "\x00\x00 \x00", "\ufeff", "\u2060 \u200b\n", "\u200e\u200f"]


@pytest.mark.parametrize("text", INVISIBLE)
async def test_the_service_refuses_invisible_text(tmp_path: Path, text: str) -> None:
    async with bots_stopped_afterwards(tmp_path) as start:
        bot = await start(rasa_url=nobody_listening())
        conversation = await bot.service.open_conversation("rest", "h:test")
        with pytest.raises(InputError) as refused:
            await bot.service.receive(conversation, text)
        assert refused.value.code == "empty"
        assert await bot.store.history(conversation.id) == []


async def test_visible_text_with_a_zero_width_character_is_kept(tmp_path: Path) -> None:
    async with bots_stopped_afterwards(tmp_path) as start:
        bot = await start(rasa_url=nobody_listening())
        conversation = await bot.service.open_conversation("rest", "h:test")
        receipt = await bot.service.receive(conversation, "社保卡\u200b补办")
        assert receipt.message.text == "社保卡\u200b补办"


async def test_telegram_invisible_text_gets_the_empty_notice_not_rasa(telegram_bot, standin) -> None:
    await standin.user_sends(6601, "\u200b\u200b\u200b")
    sent = await standin.wait_sent(6601)
    assert sent[0].text == texts.EMPTY
    conversation = await telegram_bot.store.find_open_conversation("telegram", "6601")
    assert conversation is None or await telegram_bot.store.history(conversation.id) == []
