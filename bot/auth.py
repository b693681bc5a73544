"""Helper sessions: a random cookie (HttpOnly, SameSite=Strict, Secure over https) whose sha256 is
stored server-side with an expiry, and a per-session CSRF token every state-changing request
(POST header X-CSRF-Token, or the `csrf` field of a websocket frame) must carry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass

from aiohttp import web

from bot.accounts import Helper
from bot.config import BotConfig

COOKIE = "jsb_helper"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    helper: Helper
    csrf: str
    token_hash: str
    expires_at: float


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: sqlite3.Connection, helper: Helper, hours: float) -> tuple[str, Session]:
    """A new session; returns the cookie value (shown once, stored only as a hash) and the session."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = Session(helper, secrets.token_urlsafe(24), _hash(token), now + hours * 3600)
    db.execute("DELETE FROM helper_sessions WHERE expires_at < ?", (now,))
    db.execute(
        "INSERT INTO helper_sessions (token_hash, helper_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (session.token_hash, helper.id, session.csrf, now, session.expires_at),
    )
    return token, session


def find_session(db: sqlite3.Connection, token: str | None) -> Session | None:
    """The live session of this cookie value; None for unknown, forged, expired or disabled ones."""
    if not token or len(token) > 128:
        return None
    row = db.execute(
        "SELECT s.token_hash, s.csrf, s.expires_at, h.id, h.name, h.role, h.presence FROM helper_sessions s "
        "JOIN helpers h ON h.id = s.helper_id WHERE s.token_hash = ? AND h.disabled = 0",
        (_hash(token),),
    ).fetchone()
    if row is None:
        return None
    if row[2] < time.time():
        db.execute("DELETE FROM helper_sessions WHERE token_hash = ?", (row[0],))
        return None
    return Session(Helper(row[3], row[4], row[5], row[6]), row[1], row[0], row[2])


def close_session(db: sqlite3.Connection, session: Session) -> None:
    db.execute("DELETE FROM helper_sessions WHERE token_hash = ?", (session.token_hash,))


def csrf_ok(session: Session, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf.encode())


def cookie_secure(config: BotConfig, request: web.Request) -> bool:
    if config.helpdesk_cookie_secure == "on":
        return True
    if config.helpdesk_cookie_secure == "off":
        return False
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, config: BotConfig, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(config.helpdesk_session_hours * 3600),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(config, request),
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
