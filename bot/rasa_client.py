"""The one place that talks HTTP to Rasa: the REST channel, the health pages and the tracker API."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.logs import fields

log = logging.getLogger(__name__)


class RasaUnavailableError(Exception):
    """Rasa (or the action server behind it) did not answer usefully; the message must be retried.

    `empty` marks a 200 reply without any message: usually the action server is down, but a message
    that always gets an empty reply while everything is healthy would otherwise be retried forever.
    """

    def __init__(self, reason: str, *, empty: bool = False) -> None:
        super().__init__(reason)
        self.empty = empty


class RasaClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        rasa_url: str,
        *,
        token: str | None = None,
        action_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.session = session
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.action_url = action_url.rstrip("/") if action_url else None
        self.timeout = timeout

    async def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """POST one message to the REST channel; the bot's replies, never an empty list.

        Rasa's REST channel answers 200 even when a custom action failed (the action server is
        down): the reply is then empty.  Every citizen message in this assistant gets an answer,
        so an empty reply counts as a failure and the message is tried again later.

        `metadata` carries the message's id and whether this is a retry: Rasa then answers from its
        tracker if the earlier try was recorded, instead of recording the turn twice.
        """
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        # The REST channel needs the token too (bot/rasa_channel.py): nobody talks to Rasa past this service.
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            async with self.session.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status != 200:
                    raise RasaUnavailableError(f"rasa answered HTTP {response.status}")
                replies = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError) as err:
            raise RasaUnavailableError(f"{type(err).__name__}: {err}") from err
        if not isinstance(replies, list):
            raise RasaUnavailableError("rasa reply is not a list")
        if not replies:
            raise RasaUnavailableError("rasa gave an empty reply (is the action server up?)", empty=True)
        return replies

    async def health(self) -> dict[str, str]:
        """{'rasa': 'ok'|'no_model'|'unreachable', 'actions': 'ok'|'unreachable' (when ACTION_URL is set)}."""
        checks = {"rasa": self._rasa_status()}
        if self.action_url:
            checks["actions"] = self._action_status()
        results = await asyncio.gather(*checks.values())
        return dict(zip(checks, results, strict=True))

    async def is_ready(self) -> bool:
        return all(value == "ok" for value in (await self.health()).values())

    async def _rasa_status(self) -> str:
        """Rasa answers on / even before a model is loaded; /status (HTTP API) tells the difference."""
        params = {"token": self.token} if self.token else {}
        status = await self._get_status(f"{self.rasa_url}/status", params)
        if status == 200:
            return "ok"
        if status == 409:
            return "no_model"
        if status in (401, 403, 404):  # HTTP API off or protected: being up is all we can check
            return "ok" if await self._get_status(f"{self.rasa_url}/") == 200 else "unreachable"
        return "unreachable"

    async def _action_status(self) -> str:
        return "ok" if await self._get_status(f"{self.action_url}/health") == 200 else "unreachable"

    async def _get_status(self, url: str, params: dict[str, str] | None = None) -> int | None:
        try:
            async with self.session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return None

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> bool:
        """Add events to a conversation's tracker (hand-back after a helper); needs `rasa run --enable-api`."""
        params = {"token": self.token} if self.token else {}
        try:
            async with self.session.post(
                f"{self.rasa_url}/conversations/{sender}/tracker/events",
                json=events,
                params=params,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status == 200:
                    return True
                log.warning("rasa.tracker.failed", extra=fields(status=response.status))
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            log.warning("rasa.tracker.failed", extra=fields(error=str(err)))
        return False
