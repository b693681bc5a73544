"""The conversation lock that Rasa's worker processes share, in a SQLite file: no server to start.

Loaded by the Rasa process, not by the bot service (endpoints.yml: `lock_store: type:
bot.rasa_lock_store.SQLiteLockStore`).  It lives here because the bot service owns the order of
each conversation's messages; this lock keeps that order inside Rasa when Rasa runs as several
processes (`RASA_INSTANCES` in scripts/run.sh, or `SANIC_WORKERS`): Rasa 3.6 refuses more than
one worker with its default in-memory lock, which each process would hold alone.  Instances on
several hosts use Redis instead (RASA_LOCK_REDIS_URL: bot/rasa_redis_lock.py, docs/deployment.md).

Rasa's base class reads a lock, changes it and writes it back in three steps; here each change
runs in one `BEGIN IMMEDIATE` transaction, so two workers can never hand out the same ticket.

A ticket also records the process that holds it.  When that process is gone (kill -9 of one Rasa
instance in the middle of a turn), a waiting process drops the ticket at its next check instead of
waiting for it to expire (TICKET_LOCK_LIFETIME, 60 s): the conversation moves on in another
instance within a second.  The lock file is local (SQLite), so a process id names a process here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")

SCHEMA = "CREATE TABLE IF NOT EXISTS rasa_locks (conversation_id TEXT PRIMARY KEY, lock TEXT NOT NULL)"
OWNERS = (
    "CREATE TABLE IF NOT EXISTS rasa_lock_owners (conversation_id TEXT NOT NULL, number INTEGER NOT NULL,"
    " pid INTEGER NOT NULL, PRIMARY KEY (conversation_id, number))"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class SQLiteLockStore(LockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, db: str | None = None) -> None:
        # Rasa builds a custom lock store from its endpoints.yml entry; `db` is that entry's own key.
        db = db or (endpoint_config.kwargs.get("db") if endpoint_config is not None else None)
        if not db:
            raise ValueError("SQLiteLockStore needs `db`, the path of its SQLite file (endpoints.yml)")
        self.path = Path(db)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one connection per thread (sqlite3 objects stay in their thread)
        with self._transaction() as db_:
            db_.execute(SCHEMA)
            db_.execute(OWNERS)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lock outlives no crash anyway: tickets expire
            self._local.db = db
        return db

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db())

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Read the lock, let `change` return (the lock to store or None to delete, a result), write."""
        with self._transaction() as db:
            row = db.execute("SELECT lock FROM rasa_locks WHERE conversation_id = ?", (conversation_id,)).fetchone()
            lock, result = change(TicketLock.from_dict(json.loads(row[0])) if row else None)
            if lock is None:
                db.execute("DELETE FROM rasa_locks WHERE conversation_id = ?", (conversation_id,))
                db.execute("DELETE FROM rasa_lock_owners WHERE conversation_id = ?", (conversation_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO rasa_locks (conversation_id, lock) VALUES (?, ?)",
                    (conversation_id, lock.dumps()),
                )
        return result

    # -- what Rasa's LockStore needs ------------------------------------------------------------

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        row = self._db().execute("SELECT lock FROM rasa_locks WHERE conversation_id = ?", (conversation_id,)).fetchone()
        return TicketLock.from_dict(json.loads(row[0])) if row else None

    def delete_lock(self, conversation_id: str) -> None:
        self._db().execute("DELETE FROM rasa_locks WHERE conversation_id = ?", (conversation_id,))

    def save_lock(self, lock: TicketLock) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO rasa_locks (conversation_id, lock) VALUES (?, ?)",
            (lock.conversation_id, lock.dumps()),
        )

    # -- the read-change-write steps, each atomic -----------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            with self._transaction() as db:
                row = db.execute("SELECT lock FROM rasa_locks WHERE conversation_id = ?", (conversation_id,)).fetchone()
                lock = TicketLock.from_dict(json.loads(row[0])) if row else self.create_lock(conversation_id)
                number = lock.issue_ticket(lock_lifetime)
                db.execute(
                    "INSERT OR REPLACE INTO rasa_locks (conversation_id, lock) VALUES (?, ?)",
                    (conversation_id, lock.dumps()),
                )
                db.execute(
                    "INSERT OR REPLACE INTO rasa_lock_owners (conversation_id, number, pid) VALUES (?, ?, ?)",
                    (conversation_id, number, os.getpid()),
                )
                return number
        except sqlite3.Error as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets and those of processes that are gone (Rasa calls this while it waits)."""
        owners = self._db().execute(
            "SELECT number, pid FROM rasa_lock_owners WHERE conversation_id = ?", (conversation_id,)
        )
        orphaned = [number for number, pid in owners.fetchall() if pid != os.getpid() and not _alive(pid)]

        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
                for number in orphaned:
                    lock.remove_ticket_for(number)
            return lock, None

        self._change(conversation_id, drop_expired)
        if orphaned:
            self._forget_owners(conversation_id, orphaned)

    def _forget_owners(self, conversation_id: str, numbers: list[int]) -> None:
        self._db().executemany(
            "DELETE FROM rasa_lock_owners WHERE conversation_id = ? AND number = ?",
            [(conversation_id, number) for number in numbers],
        )

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket; remove the lock when nobody else waits (one transaction)."""
        self._change(conversation_id, finishing(ticket_number))
        self._forget_owners(conversation_id, [ticket_number])


class _Transaction:
    """`with` block: BEGIN IMMEDIATE (the write lock first, so reads inside see the latest), COMMIT."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def finishing(ticket_number: int) -> Callable[[TicketLock | None], tuple[TicketLock | None, None]]:
    """The change that finishes a ticket: the lock without it, or none when nobody else waits
    (shared with the Redis lock, bot/rasa_redis_lock.py)."""

    def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
        if lock is None:
            return None, None
        lock.remove_ticket_for(ticket_number)
        return (lock if lock.is_someone_waiting() else None), None

    return finish
