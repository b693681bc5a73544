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
    """Rasa (or the action server behind it) did not answer usefully; the message must be retried."""


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
        """
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            async with self.session.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                json=body,
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
            raise RasaUnavailableError("rasa gave an empty reply (is the action server up?)")
        return replies

    async def health(self) -> dict[str, str]:
        """{'rasa': 'ok'|'unreachable', 'actions': 'ok'|'unreachable' (only when ACTION_URL is set)}."""
        checks = {"rasa": self._get_ok(f"{self.rasa_url}/")}
        if self.action_url:
            checks["actions"] = self._get_ok(f"{self.action_url}/health")
        results = await asyncio.gather(*checks.values())
        return {name: "ok" if ok else "unreachable" for name, ok in zip(checks, results, strict=True)}

    async def is_ready(self) -> bool:
        return all(value == "ok" for value in (await self.health()).values())

    async def _get_ok(self, url: str) -> bool:
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

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
