"""The aiohttp application: resources open and close with it, connectors plug their routes into it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import analytics, apikeys, curation, dead_letters, helpdesk, inputs, kb_transfer, retrain, worklists
from bot.channels import ChannelRegistry
from bot.config import BotConfig
from bot.keys import CHANNELS, CONFIG, RASA, SERVICE, STARTED_AT, STORE
from bot.logs import fields
from bot.middlewares import add_safety_headers, error_middleware, rate_limit_middleware
from bot.rasa_client import RasaClient, ready
from bot.ratelimit import KeyedLimiter
from bot.responses import ok
from bot.service import ConversationService
from bot.store import Store
from connectors import rest, webwidget

log = logging.getLogger(__name__)

MAX_BODY_BYTES = inputs.MAX_BODY_BYTES

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers and its database works."""
    pending = await request.app[STORE].pending_count()
    uptime = round(time.monotonic() - request.app[STARTED_AT], 1)
    return ok({"status": "ok", "pending_messages": pending, "uptime_s": uptime})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: Rasa (and the action server, when ACTION_URL is set) can be reached."""
    checks = await request.app[RASA].health()
    is_ready = ready(checks)  # one Rasa instance of several is enough to answer
    return ok({"status": "ready" if is_ready else "not_ready", **checks}, status=200 if is_ready else 503)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = await Store(app[CONFIG].database).open()
    app[STORE] = store
    _announce_rest_access(app[CONFIG], store)
    yield
    await store.close()


def _announce_rest_access(config: BotConfig, store: Store) -> None:
    """Say at start how REST callers get in: dev-open loudly, no key yet with the command that makes one."""
    if config.rest_dev_open:
        for _ in range(3):  # hard to miss among the start-up lines
            log.warning(
                "rest.dev_open: BOT_REST_DEV_OPEN is on - REST calls WITHOUT an API key are accepted. "
                "Local development only; never in production."
            )
    elif apikeys.live_key_count(store.db) == 0:
        log.info(
            "rest.no_keys: the REST API (/api/v1) refuses every call until a calling app has a key: "
            "python -m bot.apikeys create APP  (the web widget needs none)"
        )


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # One HTTP client session for Rasa, pooled; no connection limit per host beyond aiohttp's default.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    rasa = RasaClient(
        session, config.rasa_url, token=config.rasa_token, action_url=config.action_url, timeout=config.rasa_timeout
    )
    service = ConversationService(config, app[STORE], rasa, app[CHANNELS])
    app[RASA] = rasa
    app[SERVICE] = service
    retry = asyncio.create_task(service.retry_forever(), name="retry-loop")
    log.info(
        "bot.started",
        extra=fields(rasa_url=config.rasa_url, database=str(config.database), telegram=config.telegram_enabled),
    )
    yield
    retry.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await retry
    await service.close(config.shutdown_grace)
    await session.close()
    log.info("bot.stopped")


def create_app(config: BotConfig) -> web.Application:
    """Build the bot service: health endpoints, the web widget, the REST API and (with a token) Telegram."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        # Bodies are decompressed by bot.inputs.read_body, which answers a bad one with a JSON 400
        # (aiohttp's own answers a bad deflate body in plain text before any middleware runs).
        handler_args={"auto_decompress": False},
        middlewares=[
            error_middleware,
            rate_limit_middleware(
                KeyedLimiter(config.api_rate, config.api_burst),
                KeyedLimiter(config.api_key_rate, config.api_key_burst),
            ),
        ],
    )
    app[CONFIG] = config
    app[CHANNELS] = ChannelRegistry()
    app[STARTED_AT] = time.monotonic()
    app.on_response_prepare.append(add_safety_headers)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_service_ctx)
    app.add_routes(routes)
    webwidget.setup(app)
    rest.setup(app)
    helpdesk.setup(app)  # 在线帮办: console, queue, live chat (docs/helpers.md)
    curation.setup(app)  # knowledge-base editor, review, versions (docs/curation.md)
    worklists.setup(app)  # staff worklists: unanswered questions, 差评, helper drafts (docs/curation.md)
    kb_transfer.setup(app)  # knowledge-base import (checked before commit) and export
    analytics.setup(app)  # staff analytics: volumes, outcomes, 好差评, helpers (docs/analytics.md)
    retrain.setup(app)  # background Rasa retrain when KB names change, model swapped over HTTP
    dead_letters.setup(app)  # answers no channel could deliver, for admins (docs/security.md)
    if config.telegram_enabled:
        # Imported only when used: python-telegram-bot is a large import.
        from connectors import telegram

        telegram.setup(app)
    return app
