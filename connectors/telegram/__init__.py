"""Telegram connector (on only when TELEGRAM_TOKEN is set; docs/telegram.md).

webhook mode: Telegram POSTs updates to /telegram/webhook on *this* aiohttp app (PTB's own web
              server is not used); they go into the Application's update_queue.
polling mode: PTB's Updater long-polls getUpdates (no public address needed).
If Telegram cannot be reached at start, the widget and REST API keep working and the connector
keeps trying in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError

from bot.config import BotConfig
from bot.inputs import read_json
from bot.keys import CHANNELS, CONFIG, SERVICE
from bot.logs import fields
from connectors.telegram.handlers import TelegramConnector, build_application

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CONNECTOR = web.AppKey("telegram_connector", TelegramConnector)
WEBHOOK_SECRET = web.AppKey("telegram_webhook_secret", str)
READY = web.AppKey("telegram_ready", asyncio.Event)
RETRY_SECONDS = 30.0


async def webhook(request: web.Request) -> web.Response:
    if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), request.app[WEBHOOK_SECRET].encode()):
        raise web.HTTPForbidden(text="wrong secret token")
    if not request.app[READY].is_set():
        # Not started yet: Telegram retries a non-2xx delivery later, so nothing is lost.
        raise web.HTTPServiceUnavailable(text="telegram connector is starting")
    data = await read_json(request)  # BadInputError: a 400 with a JSON error (bot.middlewares)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise web.HTTPBadRequest(text="not a Telegram update (an object with update_id)")
    if not _chat_ids_are_integers(data):
        # Telegram's chat ids are integers; anything else would become a conversation we can never
        # answer (deliver() does int(chat_id)) and a message retried forever.
        raise web.HTTPBadRequest(text="not a Telegram update: chat.id must be an integer")
    application = request.app[CONNECTOR].application
    try:
        update = Update.de_json(data, application.bot)
    except Exception as err:  # untrusted data: any failure to read it (e.g. a date past 2038) is a bad update
        raise web.HTTPBadRequest(text=f"not a Telegram update: {err}") from None
    if update is None:
        raise web.HTTPBadRequest(text="empty update")
    await application.update_queue.put(update)
    return web.Response(text="ok")


def _chat_ids_are_integers(value: object, depth: int = 0) -> bool:
    """Every `chat` object anywhere in the update has an integer `id` (bool is not one)."""
    if depth > 8:
        return True  # real updates nest 3-4 levels; deeper parts are not read for chats
    if isinstance(value, dict):
        chat = value.get("chat")
        if chat is not None:
            chat_id = chat.get("id") if isinstance(chat, dict) else None
            if not isinstance(chat_id, int) or isinstance(chat_id, bool):
                return False
        return all(_chat_ids_are_integers(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return all(_chat_ids_are_integers(item, depth + 1) for item in value)
    return True


async def _start(connector: TelegramConnector, config: BotConfig, secret: str, ready: asyncio.Event) -> None:
    application = connector.application
    delay = 1.0
    while True:
        try:
            await application.initialize()
            if config.telegram_effective_mode == "webhook":
                await application.bot.set_webhook(
                    url=config.telegram_webhook_url or "", secret_token=secret, allowed_updates=Update.ALL_TYPES
                )
            await application.start()
            if application.updater is not None:
                await application.updater.start_polling(
                    poll_interval=config.telegram_poll_interval, allowed_updates=Update.ALL_TYPES
                )
            ready.set()
            log.info(
                "telegram.started",
                extra=fields(mode=config.telegram_effective_mode, bot=application.bot.username),
            )
            return
        except (TelegramError, OSError) as err:
            log.warning("telegram.start_failed", extra=fields(error=str(err), retry_in_s=delay))
            with contextlib.suppress(Exception):
                await application.shutdown()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_SECONDS)


async def _telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    application = build_application(config, with_updater=config.telegram_effective_mode == "polling")
    connector = TelegramConnector(app[SERVICE], application)
    application.add_handlers(connector.handlers())
    application.add_error_handler(connector.on_error)
    app[CONNECTOR] = connector
    app[CHANNELS].register(connector)
    ready = app[READY]
    starting = asyncio.create_task(_start(connector, config, app[WEBHOOK_SECRET], ready), name="telegram-start")
    yield
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    if ready.is_set():
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
    log.info("telegram.stopped")


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    app[WEBHOOK_SECRET] = config.telegram_webhook_secret or secrets.token_urlsafe(32)
    app[READY] = asyncio.Event()
    app.cleanup_ctx.append(_telegram_ctx)
    app.router.add_post(WEBHOOK_PATH, webhook)
