"""Telegram updates -> bot.service calls, and answers -> Bot API calls (python-telegram-bot 22).

Each Telegram chat is one conversation.  Buttons become inline keyboards; a click arrives as a
callback query, is acknowledged (answerCallbackQuery), and its keyboard is trimmed so it cannot be
pressed twice.  Anything that is not text gets a polite reply instead of an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import Message as TgMessage
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import texts
from bot.config import BotConfig
from bot.conversations import Conversation, Message
from bot.logs import fields
from bot.ratings import LEVELS, REASONS, is_low
from bot.service import ConversationService, InputError

log = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
TELEGRAM_TEXT_LIMIT = 4096  # the Bot API's limit per message; longer answers are split
# callback value -> rating level; g/b are the two buttons of keyboards sent before the five levels
_RATING_VALUES = {"g": 4, "b": 2, **{str(level): level for level in LEVELS}}
# callback value -> reason code of a low rating (an index: callback_data is at most 64 bytes)
_REASON_CODES = list(REASONS)


class TelegramConnector:
    """Holds the handlers (registered declaratively in `handlers()`) and pushes answers to chats."""

    name = CHANNEL_NAME

    def __init__(self, service: ConversationService, application: Application) -> None:
        self.service = service
        self.application = application

    # -- handlers ----------------------------------------------------------------------------

    def handlers(self) -> list[BaseHandler]:
        """Checked in order; the first that matches an update handles it."""
        return [
            MessageHandler(filters.UpdateType.EDITED, self.on_edited),
            CommandHandler("start", self.on_start),
            CommandHandler("new", self.on_new),
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.on_text),
            CallbackQueryHandler(self.on_button),
            MessageHandler(filters.UpdateType.MESSAGE, self.on_not_text),  # photos, stickers, voice, unknown /cmds
        ]

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None:
            return
        conversation = await self._conversation(update)
        try:
            await self.service.receive(
                conversation, message.text, client_id=f"tg-{message.chat_id}-{message.message_id}"
            )
        except InputError as err:
            await message.reply_text(err.message)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: greet through the assistant, so the welcome comes from the dialogue like any answer."""
        message = update.message
        if message is None:
            return
        conversation = await self._conversation(update)
        await self.service.receive(conversation, "你好", client_id=f"tg-{message.chat_id}-{message.message_id}")

    async def on_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new: close this chat's conversation and start afresh."""
        if update.message is None:
            return
        await self.service.close_conversation(await self._conversation(update))
        await self._conversation(update)
        await update.message.reply_text(texts.TELEGRAM_NEW_CONVERSATION)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.edited_message is not None:
            await update.edited_message.reply_text(texts.TELEGRAM_EDITED)

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            log.info("telegram.not_text", extra=fields(kinds=_content_kinds(update.message)))
            await update.message.reply_text(texts.TELEGRAM_NOT_TEXT)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        target, action = await self._button_target(update)
        if target is None or action is None:
            await query.answer(texts.TELEGRAM_BUTTON_GONE)
            return
        conversation = await self._conversation(update)
        kind, value = action
        try:
            if kind == "r":
                level = int(value)
                await self.service.rate(conversation, target.seq, level, client_id=f"tgcb-{query.id}")
                await query.answer(texts.TELEGRAM_RATED)
                if is_low(level):  # 不满意 / 非常不满意: ask why, as the widget's reason form does
                    await self.application.bot.send_message(
                        int(conversation.external_id), texts.TELEGRAM_REASON_ASK, reply_markup=reason_keyboard(target)
                    )
            elif kind == "w":
                level = int(target.rating or 0)
                if not is_low(level):  # the level was changed since: this reason no longer applies
                    await query.answer(texts.TELEGRAM_BUTTON_GONE)
                    return
                reason = _REASON_CODES[int(value)]
                await self.service.rate(conversation, target.seq, level, reason=reason, client_id=f"tgcb-{query.id}")
                await query.answer(texts.TELEGRAM_REASON_THANKS)
                await self.application.bot.send_message(int(conversation.external_id), texts.TELEGRAM_REASON_THANKS)
            else:
                button = target.buttons[int(value)]
                await self.service.receive(
                    conversation, button.title, payload=button.payload, client_id=f"tgcb-{query.id}"
                )
                await query.answer()
        except InputError as err:
            await query.answer(err.message[:190])
            return
        # Trim the keyboard so the same choice cannot be sent twice: a rating removes the rating row,
        # a quick reply removes the quick replies (the rating row stays until used).
        current = query.message.reply_markup if isinstance(query.message, TgMessage) else None
        rows = [
            row
            for row in (current.inline_keyboard if current else ())
            if not any(str(button.callback_data or "").startswith(f"{kind}:") for button in row)
        ]
        try:
            await query.edit_message_reply_markup(reply_markup=InlineKeyboardMarkup(rows) if rows else None)
        except BadRequest as err:  # e.g. "message is not modified" or too old to edit
            log.info("telegram.keyboard_not_trimmed", extra=fields(error=str(err)))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram.handler_failed", exc_info=context.error)

    # -- channel: answers out ----------------------------------------------------------------

    async def deliver(self, conversation: Conversation, messages: Sequence[Message]) -> bool:
        chat_id = int(conversation.external_id)
        for message in messages:
            chunks = split_text(message.text)
            try:
                for index, chunk in enumerate(chunks):
                    last = index == len(chunks) - 1
                    await self.application.bot.send_message(
                        chat_id, chunk, reply_markup=keyboard(message) if last else None
                    )
            except Forbidden:
                log.warning("telegram.blocked", extra=fields(conversation=conversation.id))
                return True  # the citizen blocked the bot: retrying cannot help
            except TelegramError as err:
                log.warning("telegram.send_failed", extra=fields(conversation=conversation.id, error=str(err)))
                return False
        return True

    async def typing(self, conversation: Conversation, on: bool) -> None:
        if on:
            await self.application.bot.send_chat_action(int(conversation.external_id), "typing")

    # -- helpers -----------------------------------------------------------------------------

    async def _conversation(self, update: Update) -> Conversation:
        chat = update.effective_chat
        user = update.effective_user
        assert chat is not None
        citizen = {"chat_type": chat.type, "user_id": user.id if user else None}
        return await self.service.open_conversation(CHANNEL_NAME, str(chat.id), citizen)

    async def _button_target(self, update: Update) -> tuple[Message | None, tuple[str, str] | None]:
        """Which stored message a callback refers to, and what was pressed; (None, None) when stale."""
        query = update.callback_query
        assert query is not None
        try:
            kind, seq_text, value = (query.data or "").split(":", 2)
            seq = int(seq_text)
        except ValueError:
            return None, None
        message = await self.service.get_message(seq)
        conversation = await self._conversation(update)
        if message is None or message.conversation_id != conversation.id:
            return None, None
        if kind == "b" and value.isdigit() and int(value) < len(message.buttons):
            return message, ("b", value)
        if kind == "r" and value in _RATING_VALUES and ratable(message):
            return message, ("r", _RATING_VALUES[value])
        if kind == "w" and value.isdigit() and int(value) < len(_REASON_CODES) and ratable(message):
            return message, ("w", value)
        return None, None


def ratable(message: Message) -> bool:
    return message.entry is not None or message.extra.get("rate") == "helper"


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    """Quick replies one per row (titles can be long), then the five 好差评 levels for answers
    from the knowledge base and for the notice that ends a helper's conversation.

    callback_data holds only "kind:seq:index" (Telegram allows 64 bytes); the payload stays in the store.
    """
    rows = [
        [InlineKeyboardButton(b.title, callback_data=f"b:{message.seq}:{i}")] for i, b in enumerate(message.buttons)
    ]
    if ratable(message) and message.rating is None:
        # 好差评's five levels in two rows (five Chinese labels do not fit one row on a phone).
        buttons = [InlineKeyboardButton(name, callback_data=f"r:{message.seq}:{n}") for n, name in LEVELS.items()]
        rows += [buttons[:3], buttons[3:]]
    return InlineKeyboardMarkup(rows) if rows else None


def reason_keyboard(message: Message) -> InlineKeyboardMarkup:
    """The reasons of a low rating, two to a row; callback_data "w:seq:index" names the rated message."""
    buttons = [
        InlineKeyboardButton(name, callback_data=f"w:{message.seq}:{index}")
        for index, name in enumerate(REASONS.values())
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split at line breaks where possible so no piece exceeds Telegram's limit."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    chunks.append(text)
    return chunks


def _content_kinds(message: TgMessage) -> list[str]:
    kinds = ("photo", "sticker", "voice", "audio", "video", "document", "location", "contact", "animation")
    found = [kind for kind in kinds if getattr(message, kind, None)]
    return found or (["command"] if message.text else ["other"])


def build_application(config: BotConfig, *, with_updater: bool) -> Application:
    """The PTB Application; base_url/base_file_url point at another Bot API server when configured."""
    builder = (
        ApplicationBuilder()
        .token(config.telegram_token or "")
        .base_url(config.telegram_base_url)
        .base_file_url(config.telegram_base_file_url)
    )
    if not with_updater:
        builder = builder.updater(None)  # webhook mode: our aiohttp app receives the updates
    return builder.build()
