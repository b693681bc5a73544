"""The conversation lock of Rasa instances on several hosts, in Redis (RASA_LOCK_REDIS_URL,
bot/rasa_endpoints.py); the embedded default is bot/rasa_lock_store.py's SQLite file.

Rasa's own RedisLockStore with two changes, both for instances that share one conversation:

- Each read-change-write of a lock is one Redis transaction (WATCH/MULTI, retried on a
  conflict).  Rasa's reads the lock, changes it and writes it back in three commands, so two
  instances taking a ticket at the same moment can both get the same number and run one
  conversation's turns at the same time.

- A ticket records the instance that holds it, and every instance keeps a key alive in Redis
  (refreshed every OWNER_TTL / 4 seconds, expiring after OWNER_TTL).  When an instance dies in the
  middle of a turn (kill -9, a host lost), the instance waiting for that conversation drops the
  ticket once the dead one's key has expired, instead of waiting out the ticket's lifetime
  (TICKET_LOCK_LIFETIME, 60 s).  A process id would not do: the instances run on several hosts.
  An instance that stalls longer than OWNER_TTL (its heartbeat thread did not run) may lose its
  ticket to a waiting one; 10 s leaves room for a busy host.

A lock key expires a minute after its last ticket would, so a conversation whose instance died
and which never came back leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX, LOCK_LIFETIME, LockError, LockStore
from rasa.core.lock_store import RedisLockStore as RasaRedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_lock_store import finishing

log = logging.getLogger(__name__)
T = TypeVar("T")

OWNER_TTL = 10.0  # seconds an instance counts as alive after its last heartbeat
KEY_SLACK = 60  # seconds a lock key outlives its last ticket's expiry


class RedisLockStore(RasaRedisLockStore):
    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        url: str | None = None,
        owner_ttl: float | None = None,
        key_prefix: str | None = None,
    ) -> None:
        # Rasa builds a custom lock store from its endpoints entry: `url` (a redis:// URL) and
        # optionally `owner_ttl` and `key_prefix` (alphanumeric, for several assistants on one Redis).
        kwargs = endpoint_config.kwargs if endpoint_config is not None else {}
        url = url or (endpoint_config.url if endpoint_config is not None else None)
        if not url:
            raise ValueError("RedisLockStore needs `url`, e.g. redis://host:6379/1 (RASA_LOCK_REDIS_URL)")
        self.red = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self.key_prefix = DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
        prefix = key_prefix or kwargs.get("key_prefix")
        if prefix:
            self._set_key_prefix(str(prefix))
        self.owner_ttl = float(owner_ttl or kwargs.get("owner_ttl") or OWNER_TTL)
        self.instance = ""
        self._pid = 0  # the process `instance` names: a forked worker (SANIC_WORKERS) gets its own
        self._heartbeat: threading.Thread | None = None
        self._stopped = threading.Event()
        LockStore.__init__(self)

    # -- keys --------------------------------------------------------------------------------------

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def _owners_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}owners:{conversation_id}"

    def _alive_key(self, instance: str) -> str:
        return f"{self.key_prefix}instance:{instance}"

    # -- this instance's heartbeat -------------------------------------------------------------

    def _beat_once(self) -> None:
        self.red.set(self._alive_key(self.instance), "1", px=int(self.owner_ttl * 1000))

    def _keep_alive(self) -> None:
        """The heartbeat runs from the first ticket on, in the process that takes it: a worker forked
        after the store was made is an instance of its own, with its own heartbeat."""
        if self._pid == os.getpid() and self._heartbeat is not None and self._heartbeat.is_alive():
            return
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self.instance = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
        self._beat_once()  # before the first ticket names this instance
        self._heartbeat = threading.Thread(target=self._beat, name="rasa-lock-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self.owner_ttl / 4):
            try:
                self._beat_once()
            except redis.RedisError as error:  # Redis away for a moment: the next beat tries again
                log.warning("lock store heartbeat failed: %s", error)

    def stop(self) -> None:
        """Stop the heartbeat and say this instance is gone (tests; a process that exits just stops)."""
        self._stopped.set()
        if self.instance:
            self.red.delete(self._alive_key(self.instance))

    # -- atomic changes ------------------------------------------------------------------------

    def _change(
        self,
        conversation_id: str,
        change: Callable[[TicketLock | None], tuple[TicketLock | None, T]],
        also: Callable[[Any, T], None] | None = None,
    ) -> T:
        """Read the lock, let `change` return (the lock to store or None to delete, a result), write
        it, and queue `also(pipe, result)` in the same transaction.  Retried while another instance
        changes the lock in between, so `change` must only work on the lock it is given."""
        key = self._key(conversation_id)
        results: list[T] = []

        def attempt(pipe: Any) -> None:
            raw = pipe.get(key)
            lock, result = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
            pipe.multi()
            if lock is None:
                pipe.delete(key, self._owners_key(conversation_id))
            else:
                pipe.set(key, lock.dumps(), ex=_seconds_to_keep(lock))
            if also is not None:
                also(pipe, result)
            results[:] = [result]

        self.red.transaction(attempt, key)
        return results[0]

    # -- what Rasa's LockStore calls -----------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            self._keep_alive()

            def issue(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
                lock = lock or self.create_lock(conversation_id)
                return lock, lock.issue_ticket(lock_lifetime)

            def own(pipe: Any, number: int) -> None:
                owners = self._owners_key(conversation_id)
                pipe.hset(owners, str(number), self.instance)
                pipe.expire(owners, math.ceil(lock_lifetime) + KEY_SLACK)

            return self._change(conversation_id, issue, own)
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets and those of instances that are gone (Rasa calls this while it waits)."""
        owners = self.red.hgetall(self._owners_key(conversation_id))
        orphaned = [
            int(number)
            for number, instance in owners.items()
            if instance.decode() != self.instance and not self.red.exists(self._alive_key(instance.decode()))
        ]
        if orphaned:
            log.warning("dropping %d ticket(s) of a Rasa instance that is gone", len(orphaned))

        def drop(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
                for number in orphaned:
                    lock.remove_ticket_for(number)
            return lock, None

        def forget(pipe: Any, _result: None) -> None:
            if orphaned:
                pipe.hdel(self._owners_key(conversation_id), *[str(number) for number in orphaned])

        self._change(conversation_id, drop, forget)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket; remove the lock when nobody else waits (one transaction)."""

        def forget(pipe: Any, _result: None) -> None:
            pipe.hdel(self._owners_key(conversation_id), str(ticket_number))

        self._change(conversation_id, finishing(ticket_number), forget)


def _seconds_to_keep(lock: TicketLock) -> int:
    last = max((ticket.expires for ticket in lock.tickets), default=time.time())
    return max(1, math.ceil(last - time.time())) + KEY_SLACK
