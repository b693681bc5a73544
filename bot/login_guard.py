"""Staff login without stalling the service and without unlimited guessing.

* The argon2 check (tens of ms of CPU, about a second on a busy machine) runs on a one-thread
  pool at a lower CPU priority, never on the event loop; argon2-cffi releases the GIL, so /healthz,
  the widget and REST keep answering during a flood.  At most MAX_WAITING checks wait for the
  pool: more get 429 at once.
* Failed logins are counted per account and per client address.  After HELPDESK_LOGIN_TRIES
  failures of one account (HELPDESK_LOGIN_ADDRESS_TRIES from one address) the account (address) is
  locked for HELPDESK_LOGIN_LOCKOUT seconds, doubling with each further failure up to an hour.
  While locked every login is refused with 429 and Retry-After, the right password too, and no
  password is checked (which also costs the attacker's flood nothing of ours).
* Every attempt leaves a row in `login_audit` (name, address, outcome), for admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot import accounts
from bot.accounts import Helper

MAX_LOCKOUT_S = 3600.0
POOL_THREADS = 1  # one check at a time: argon2 itself runs 4 lanes in parallel
MAX_WAITING = 8  # checks queued for the pool beyond its threads
MAX_PASSWORD_CHARS = 1024
AUDIT_KEEP_S = 180 * 86400


@dataclass(frozen=True)
class Refusal:
    """Why a login was not let in: a wrong name/password (401) or a wait (429 + Retry-After)."""

    outcome: str  # bad / locked / busy
    retry_after: int = 0


def _lower_priority() -> None:
    """Run the pool's thread (and the threads argon2 starts from it, which inherit it) at a lower
    CPU priority than the event loop: on a busy machine a login may wait, the service should not."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class LoginGuard:
    def __init__(self, db: sqlite3.Connection, account_tries: int, address_tries: int, lockout_s: float) -> None:
        self.db = db
        self.account_tries = account_tries
        self.address_tries = address_tries
        self.lockout_s = lockout_s
        self._pool = ThreadPoolExecutor(
            max_workers=POOL_THREADS, thread_name_prefix="login-argon2", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(POOL_THREADS + MAX_WAITING)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def login(self, name: str, password: str, address: str) -> Helper | Refusal:
        now = time.time()
        name = name[:64].encode("utf-8", "replace").decode("utf-8")  # what the audit row can hold
        keys = (f"account:{name.casefold()}", f"address:{address}")
        wait = self._locked_for(keys, now)
        if wait:
            return self._audit(name, address, Refusal("locked", wait))
        if self._slots.locked():
            return self._audit(name, address, Refusal("busy", 2))
        async with self._slots:
            helper = await self._check(name, password[:MAX_PASSWORD_CHARS])
        if helper is None:
            self._failed(keys, time.time())
            return self._audit(name, address, Refusal("bad"))
        self.db.execute("DELETE FROM login_throttle WHERE key = ?", (keys[0],))
        self._audit(name, address, None)
        return helper

    async def _check(self, name: str, password: str) -> Helper | None:
        # The row is read here (the connection belongs to the loop's thread); only argon2 runs on the pool.
        helper, stored = accounts.lookup(self.db, name)
        loop = asyncio.get_running_loop()
        matches, rehashed = await loop.run_in_executor(self._pool, accounts.check_password, stored, password)
        if not matches or helper is None:
            return None
        if rehashed:
            self.db.execute("UPDATE helpers SET password_hash = ? WHERE id = ?", (rehashed, helper.id))
        return helper

    def _locked_for(self, keys: tuple[str, str], now: float) -> int:
        rows = self.db.execute("SELECT MAX(locked_until) FROM login_throttle WHERE key IN (?, ?)", keys).fetchone()
        until = rows[0] or 0.0
        return max(1, math.ceil(until - now)) if until > now else 0

    def _failed(self, keys: tuple[str, str], now: float) -> None:
        for key, free in zip(keys, (self.account_tries, self.address_tries), strict=True):
            row = self.db.execute("SELECT failures, last_failure FROM login_throttle WHERE key = ?", (key,)).fetchone()
            # A quiet hour forgets earlier failures; otherwise each failure past the free ones doubles the wait.
            failures = 1 if row is None or now - row[1] > MAX_LOCKOUT_S else row[0] + 1
            locked_until = 0.0
            if failures >= free:
                locked_until = now + min(MAX_LOCKOUT_S, self.lockout_s * 2 ** min(failures - free, 20))
            self.db.execute(
                "INSERT INTO login_throttle (key, failures, last_failure, locked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, "
                "last_failure = excluded.last_failure, locked_until = excluded.locked_until",
                (key, failures, now, locked_until),
            )

    def _audit(self, name: str, address: str, refusal: Refusal | None) -> Refusal:
        now = time.time()
        outcome = refusal.outcome if refusal else "ok"
        self.db.execute(
            "INSERT INTO login_audit (at, name, address, outcome, wait_s) VALUES (?, ?, ?, ?, ?)",
            (now, name, address, outcome, refusal.retry_after if refusal else None),
        )
        if int(now) % 97 == 0:  # now and then, not on every attempt
            self.db.execute("DELETE FROM login_audit WHERE at < ?", (now - AUDIT_KEEP_S,))
        return refusal or Refusal("ok")
