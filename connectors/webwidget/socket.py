"""The widget's websocket: a small JSON protocol, every bad frame answered with a clear error.

Client -> server (JSON text frames)
  {"type": "hello", "conversation_id": str|null, "visitor_id": str|null, "after_seq": int}
  {"type": "message", "client_id": str, "text": str, "payload": str|null}
  {"type": "rate", "client_id": str, "seq": int, "value": 1-5, "reason": str|null, "comment": str|null}
      (a state on the rated message: acked with the message, no reply; bot/ratings.py)
  {"type": "typing", "on": bool}      the citizen is typing (shown to the helper who owns the chat)
  {"type": "ping"}
Server -> client
  {"type": "welcome", "conversation_id", "visitor_id", "state", "history": [message], "notice"?: str,
   "status": handoff status|null, "intro": {"greeting", "hot_questions", "hours", "hotline"},
   "rating": {"levels": [[5, "非常满意"], …], "low": 2, "reasons": [[code, label], …]}}
  {"type": "ack", "client_id", "seq", "duplicate": bool, "message": message}
  {"type": "message", "message": message}      answers, notices, and the citizen's words from other tabs
  {"type": "typing", "on": bool}
  {"type": "status", "status": {"state", "position"?, "expected_wait_s"?, "off_hours"?, "helper"?, "hours", "hotline"}}
  {"type": "error", "code", "message", "client_id"?, "retry_after"?}
  {"type": "pong"}
Close codes: 1003 binary frame, 1008 too many bad frames, 1009 frame over 64 KiB, 1001 server shutdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from bot import ratings, texts
from bot.config import BotConfig
from bot.conversations import Conversation, State
from bot.inputs import BadInputError, parse_json
from bot.logs import fields
from bot.ratelimit import TokenBucket
from bot.service import MAX_SEQ, ConversationService, InputError, Receipt
from connectors.webwidget.channel import CHANNEL_NAME, WidgetChannel, dumps
from connectors.webwidget.welcome import welcome_intro

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
TYPING_INTERVAL_S = 1.0
MAX_BAD_FRAMES = 30  # then the connection is closed (1008): it is not a widget talking
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")


class WidgetSession:
    """One websocket connection: its rate limit, its conversation, its frames."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        service: ConversationService,
        channel: WidgetChannel,
        config: BotConfig,
        request: web.Request,
    ) -> None:
        self.ws = ws
        self.service = service
        self.channel = channel
        self.config = config
        self.request = request
        self.bucket = TokenBucket(config.ws_rate, config.ws_burst)
        self.conversation: Conversation | None = None
        self.bad_frames = 0
        self.last_typing = 0.0

    async def run(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type == WSMsgType.TEXT:
                    await self.on_text_safely(frame.data)
                elif frame.type == WSMsgType.BINARY:
                    await self.error("binary_frame", texts.BINARY_FRAME)
                    await self.ws.close(code=1003, message=b"binary frames are not supported")
                    break
                elif frame.type == WSMsgType.ERROR:
                    log.info("widget.socket.error", extra=fields(error=str(self.ws.exception())))
                    break
                if self.bad_frames > MAX_BAD_FRAMES:
                    await self.ws.close(code=1008, message=b"too many bad frames")
                    break
        finally:
            if self.conversation is not None:
                self.channel.unsubscribe(self.conversation.id, self.ws)

    async def on_text_safely(self, data: str) -> None:
        """A frame we fail on is answered with an error frame; the citizen's socket stays up."""
        try:
            await self.on_text(data)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("widget.frame_failed")
            self.bad_frames += 1
            await self.error("internal_error", texts.FRAME_FAILED, client_id=_client_id_of(data))

    async def on_text(self, data: str) -> None:
        if _is_typing(data):
            await self.citizen_typing(data)
            return
        if not self.bucket.allow():
            self.bad_frames += 1
            wait = self.bucket.retry_after()
            await self.error(
                "rate_limited", texts.RATE_LIMITED.format(seconds=wait), client_id=_client_id_of(data), retry_after=wait
            )
            return
        try:
            frame = parse_json(data)
        except BadInputError as err:
            self.bad_frames += 1
            # bad_json keeps its code (older widgets know it); the others say what was wrong
            code, message = ("bad_json", texts.BAD_FRAME) if err.code == "invalid_json" else (err.code, err.message)
            await self.error(code, message, client_id=_client_id_of(data))
            return
        if not isinstance(frame, dict):
            self.bad_frames += 1
            await self.error("bad_json", texts.BAD_FRAME)
            return
        kind = frame.get("type")
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "hello":
            await self.hello(frame)
        elif kind in ("message", "rate"):
            await self.citizen_frame(kind, frame)
        else:
            self.bad_frames += 1
            await self.error("unknown_type", texts.UNKNOWN_TYPE.format(kind=str(kind)[:40]))

    async def citizen_typing(self, data: str) -> None:
        """Typing frames skip the message rate limit (they must never delay a message) but count at
        most one a second; anything else about them is dropped quietly."""
        now = time.monotonic()
        if self.conversation is None or now - self.last_typing < TYPING_INTERVAL_S:
            return
        self.last_typing = now
        on = json.loads(data).get("on") is True
        await self.service.citizen_typing(self.conversation, on)

    async def hello(self, frame: dict[str, Any]) -> None:
        visitor = frame.get("visitor_id")
        if not isinstance(visitor, str) or not _ID.match(visitor):
            visitor = uuid.uuid4().hex
        after_seq = frame.get("after_seq")
        after_seq = after_seq if isinstance(after_seq, int) and 0 <= after_seq <= MAX_SEQ else 0
        wanted = frame.get("conversation_id")
        conversation, notice = None, None
        if wanted is not None:
            if isinstance(wanted, str) and _CONVERSATION_ID.match(wanted):
                conversation = await self.service.get_conversation(wanted)
            if conversation is None or conversation.channel != CHANNEL_NAME:
                conversation, notice = None, texts.UNKNOWN_CONVERSATION
            elif conversation.state == State.CLOSED:
                conversation, notice = None, texts.CLOSED_CONVERSATION
        if conversation is None:
            conversation = await self.service.new_conversation(
                CHANNEL_NAME, visitor, {"visitor_id": visitor, "page": _page_of(self.request)}
            )
            after_seq = 0
        if self.conversation is not None:
            self.channel.unsubscribe(self.conversation.id, self.ws)
        self.conversation = conversation
        self.channel.subscribe(conversation.id, self.ws)
        history = await self.service.history(conversation, after_seq)
        welcome: dict[str, Any] = {
            "type": "welcome",
            "conversation_id": conversation.id,
            "visitor_id": visitor,
            "state": conversation.state.value,
            "history": [message.to_json() for message in history],
            "max_chars": self.config.max_message_chars,
            "status": self.service.handoff_status(conversation),
            "intro": welcome_intro(self.config),
            "rating": ratings.widget_json(),
        }
        if notice:
            welcome["notice"] = notice
        await self.send(welcome)

    async def citizen_frame(self, kind: str, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id")
        if not isinstance(client_id, str) or not _ID.match(client_id):
            self.bad_frames += 1
            await self.error("bad_client_id", "client_id 必须是 8-64 位字母数字。 / client_id: 8-64 of [A-Za-z0-9_-].")
            return
        if self.conversation is None:
            await self.error("hello_first", texts.HELLO_FIRST, client_id=client_id)
            return
        try:
            receipt = await self._receive(kind, frame, client_id)
        except InputError as err:
            self.bad_frames += 1
            await self.error(err.code, err.message, client_id=client_id)
            return
        message = receipt.message.to_json()
        await self.send(
            {
                "type": "ack",
                "client_id": client_id,
                "seq": receipt.message.seq,
                "duplicate": receipt.duplicate,
                "message": message,
            }
        )
        if not receipt.duplicate:
            await self.channel.broadcast(self.conversation.id, {"type": "message", "message": message}, skip=self.ws)

    async def _receive(self, kind: str, frame: dict[str, Any], client_id: str) -> Receipt:
        assert self.conversation is not None
        if kind == "rate":
            seq = frame.get("seq")
            if not isinstance(seq, int):
                raise InputError("not_ratable", texts.NOTHING_TO_RATE)
            return await self.service.rate(
                self.conversation,
                seq,
                frame.get("value"),
                reason=frame.get("reason"),
                comment=frame.get("comment"),
                client_id=client_id,
            )
        payload = frame.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise InputError("bad_payload", "payload 必须是文字。 / payload must be a string.")
        return await self.service.receive(self.conversation, frame.get("text"), payload=payload, client_id=client_id)  # type: ignore[arg-type]

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(dumps(frame))

    async def error(self, code: str, message: str, **extra: Any) -> None:
        await self.send({"type": "error", "code": code, "message": message, **{k: v for k, v in extra.items() if v}})


def _is_typing(data: str) -> bool:
    # A cheap look before parsing: typing frames are tiny and frequent.
    if len(data) > 64 or '"typing"' not in data:
        return False
    try:
        frame = json.loads(data)
    except ValueError:
        return False
    return isinstance(frame, dict) and frame.get("type") == "typing"


def _client_id_of(data: str) -> str | None:
    """The client_id of a frame we are refusing, so the widget can resend exactly that one later."""
    try:
        frame = json.loads(data)
    except (ValueError, RecursionError):
        return None
    client_id = frame.get("client_id") if isinstance(frame, dict) else None
    return client_id if isinstance(client_id, str) and _ID.match(client_id) else None


def _page_of(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    return origin[:200] if origin else None


def origin_allowed(config: BotConfig, request: web.Request) -> bool:
    """May a page from the request's Origin open the widget socket?  Pages of the service's own
    origin always may, the origins in BOT_ALLOWED_ORIGINS too ("*": any).  A client without an
    Origin header is not a browser page (and cannot be made to act for a citizen), so it may."""
    origin = request.headers.get("Origin")
    if origin is None or "*" in config.allowed_origins:
        return True
    if origin.rstrip("/") in {allowed.rstrip("/") for allowed in config.allowed_origins}:
        return True
    # The serving origin, by host and port (a TLS-terminating proxy may reach us over plain http).
    return urlsplit(origin).netloc.lower() == request.host.lower()
