"""Pushes answers to every open widget socket of a conversation (a citizen may have two tabs open)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.conversations import Conversation, Message

log = logging.getLogger(__name__)

CHANNEL_NAME = "webwidget"

dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class WidgetChannel:
    name = CHANNEL_NAME

    def __init__(self) -> None:
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}

    def subscribe(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        self._sockets.setdefault(conversation_id, set()).add(ws)

    def unsubscribe(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[conversation_id]

    def connections(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def deliver(self, conversation: Conversation, messages: Sequence[Message]) -> bool:
        for message in messages:
            await self.broadcast(conversation.id, {"type": "message", "message": message.to_json()})
        return True  # the stored history is shown again on the next connection

    async def typing(self, conversation: Conversation, on: bool) -> None:
        await self.broadcast(conversation.id, {"type": "typing", "on": on})

    async def status(self, conversation: Conversation, status: dict[str, Any]) -> None:
        """The live handoff status (queue position, expected wait, helper): one card, updated in place."""
        await self.broadcast(conversation.id, {"type": "status", "status": status})

    async def broadcast(
        self, conversation_id: str, frame: dict[str, Any], *, skip: web.WebSocketResponse | None = None
    ) -> None:
        for ws in list(self._sockets.get(conversation_id, ())):
            if ws is skip or ws.closed:
                continue
            try:
                await ws.send_str(dumps(frame))
            except (ConnectionError, RuntimeError):
                self.unsubscribe(conversation_id, ws)

    async def close_all(self, code: int, message: bytes) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=code, message=message)
