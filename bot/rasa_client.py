"""The one place that talks HTTP to Rasa: the REST channel, the health pages and the tracker API.

Rasa may run as several processes (RASA_URL lists them, comma-separated; scripts/run.sh starts
RASA_INSTANCES of them) that share the tracker store and the conversation lock.  Each conversation
goes to its preferred instance (a stable hash of its id, so its turns normally stay in one
process); when that one is down (connection refused, or it answers that it is not ready) the call
goes to the next, and back to the preferred one as soon as it answers again.  So a crashed or
restarting Rasa costs citizens no wait while another instance runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Sequence
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


# Answers that mean "this instance cannot take the message now; nothing was recorded": try another.
NOT_READY_STATUSES = (409, 502, 503)


class _InstanceDownError(Exception):
    """This instance did not take the message (refused, or not ready): another one may."""

    def __init__(self, reason: str, *, maybe_recorded: bool) -> None:
        super().__init__(reason)
        self.maybe_recorded = maybe_recorded


def instance_urls(rasa_url: str | Sequence[str]) -> list[str]:
    """RASA_URL as a list: one URL, or several separated by commas."""
    parts = rasa_url.split(",") if isinstance(rasa_url, str) else list(rasa_url)
    return [part.strip().rstrip("/") for part in parts if part.strip()]


def preferred_order(sender: str, count: int) -> list[int]:
    """Instance indexes to try for conversation `sender`: its preferred one first (crc32 of the id,
    the same in every process and every start), then the others in turn."""
    first = zlib.crc32(sender.encode("utf-8")) % count
    return [(first + step) % count for step in range(count)]


class RasaClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        rasa_url: str | Sequence[str],
        *,
        token: str | None = None,
        action_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.session = session
        self.urls = instance_urls(rasa_url)
        if not self.urls:
            raise ValueError("no Rasa URL")
        self.rasa_url = self.urls[0]
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
        metadata = dict(metadata or {})
        last: _InstanceDownError | None = None
        for index in preferred_order(sender, len(self.urls)):
            try:
                return await self._send_to(self.urls[index], sender, text, metadata)
            except _InstanceDownError as err:
                log.info("rasa.failover", extra=fields(instance=self.urls[index], reason=str(err)))
                last = err
                # The instance may have recorded the turn before it died (a dropped connection):
                # the next one is asked as for a retry, so it answers from the shared tracker.
                metadata["retry"] = metadata.get("retry", False) or err.maybe_recorded
        assert last is not None
        raise RasaUnavailableError(f"no Rasa instance answered: {last}")

    async def _send_to(self, url: str, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        # The REST channel needs the token too (bot/rasa_channel.py): nobody talks to Rasa past this service.
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            async with self.session.post(
                f"{url}/webhooks/rest/webhook",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status in NOT_READY_STATUSES:
                    raise _InstanceDownError(f"HTTP {response.status}", maybe_recorded=False)
                if response.status != 200:
                    raise RasaUnavailableError(f"rasa answered HTTP {response.status}")
                replies = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as err:  # nobody listens: nothing was sent
            raise _InstanceDownError(f"{type(err).__name__}: {err}", maybe_recorded=False) from err
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as err:  # it died while working on it
            raise _InstanceDownError(f"{type(err).__name__}: {err}", maybe_recorded=True) from err
        except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError) as err:
            # A timeout is not a failover: the instance may still be answering; the retry later
            # (marked as one) is answered from the tracker if this try gets recorded.
            raise RasaUnavailableError(f"{type(err).__name__}: {err}") from err
        if not isinstance(replies, list):
            raise RasaUnavailableError("rasa reply is not a list")
        if not replies:
            raise RasaUnavailableError("rasa gave an empty reply (is the action server up?)", empty=True)
        return replies

    async def health(self) -> dict[str, str]:
        """{'rasa': 'ok'|'no_model'|'unreachable', 'actions': 'ok'|'unreachable' (when ACTION_URL is set)}.

        Rasa is 'ok' when at least one instance is: the service can answer.  With several
        instances, 'rasa_instances' says how many of them are ('2/2')."""
        checks = {"rasa": self._rasa_statuses()}
        if self.action_url:
            checks["actions"] = self._action_status()
        results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
        instances = results.pop("rasa")
        health = {"rasa": _best(instances)}
        if len(instances) > 1:
            health["rasa_instances"] = f"{instances.count('ok')}/{len(instances)}"
        return {**health, **results}

    async def is_ready(self) -> bool:
        return ready(await self.health())

    async def _rasa_statuses(self) -> list[str]:
        return list(await asyncio.gather(*(self._rasa_status(url) for url in self.urls)))

    async def _rasa_status(self, url: str) -> str:
        """Rasa answers on / even before a model is loaded; /status (HTTP API) tells the difference."""
        params = {"token": self.token} if self.token else {}
        status = await self._get_status(f"{url}/status", params)
        if status == 200:
            return "ok"
        if status == 409:
            return "no_model"
        if status in (401, 403, 404):  # HTTP API off or protected: being up is all we can check
            return "ok" if await self._get_status(f"{url}/") == 200 else "unreachable"
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
        """Add events to a conversation's tracker (hand-back after a helper); needs `rasa run --enable-api`.
        The tracker store is shared: any instance that answers will do, the preferred one first."""
        params = {"token": self.token} if self.token else {}
        for index in preferred_order(sender, len(self.urls)):
            try:
                async with self.session.post(
                    f"{self.urls[index]}/conversations/{sender}/tracker/events",
                    json=events,
                    params=params,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    if response.status == 200:
                        return True
                    log.warning("rasa.tracker.failed", extra=fields(status=response.status))
                    if response.status not in NOT_READY_STATUSES:
                        return False
            except aiohttp.ClientConnectorError as err:  # not sent: the next instance may take it
                log.warning("rasa.tracker.failed", extra=fields(error=str(err)))
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                log.warning("rasa.tracker.failed", extra=fields(error=str(err)))
                return False  # maybe applied: the tracker outbox tries again later
        return False


def ready(health: dict[str, str]) -> bool:
    """Rasa (at least one instance) and the action server, if checked, answer."""
    return all(value == "ok" for name, value in health.items() if name != "rasa_instances")


def _best(statuses: list[str]) -> str:
    """One word for all instances: 'ok' if any is, else what is most hopeful."""
    for word in ("ok", "no_model"):
        if word in statuses:
            return word
    return "unreachable"
