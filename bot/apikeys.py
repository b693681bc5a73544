"""Calling apps of the REST API and their keys: only a key's sha256 is stored, never the key.

    python -m bot.apikeys create APP        a new app and its first key (the key is printed once)
    python -m bot.apikeys rotate APP        a new key for APP; the old one stops working (or --grace)
    python -m bot.apikeys revoke APP        every key of APP stops working
    python -m bot.apikeys list              apps, key prefixes, when created / last used / revoked

A key is `jsb_` + 43 random URL-safe characters (256 bits).  Because it is random and long, a plain
sha256 is enough to keep it safe at rest (a slow password hash is for guessable secrets) and the
lookup is one indexed read.  The app a key belongs to owns the conversations it opens (see
connectors/rest): another app, even with a valid key, cannot read or continue them.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot import schema

PREFIX = "jsb_"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,47}$")
HEADER_HINT = "Authorization: Bearer <key>  (or X-API-Key: <key>)"


class ApiKeyError(ValueError):
    """A name that cannot be used, or an app that does not exist; the message says why."""


@dataclass(frozen=True)
class CallingApp:
    id: int
    name: str

    @property
    def owner_prefix(self) -> str:
        """What a conversation's external id starts with when this app opened it."""
        return f"app{self.id}:"


# Callers without a key when BOT_REST_DEV_OPEN is on: one shared pseudo-app (never stored).
DEV_APP = CallingApp(0, "dev-open")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _new_key(db: sqlite3.Connection, app_id: int) -> str:
    key = PREFIX + secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO api_keys (key_hash, app_id, hint, created_at) VALUES (?, ?, ?, ?)",
        (digest(key), app_id, key[:8], time.time()),
    )
    return key


def _app_id(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT id FROM api_apps WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise ApiKeyError(f"no app named {name!r} (python -m bot.apikeys list)")
    return int(row[0])


def create(db: sqlite3.Connection, name: str) -> tuple[CallingApp, str]:
    """A new calling app and its first key; the key is returned once and only its hash is kept."""
    if not NAME_PATTERN.match(name):
        raise ApiKeyError("app name: 2-48 of a-z, 0-9, '_', '.', '-' (starting with a letter or digit)")
    try:
        cursor = db.execute("INSERT INTO api_apps (name, created_at) VALUES (?, ?)", (name, time.time()))
    except sqlite3.IntegrityError:
        raise ApiKeyError(f"an app named {name!r} exists already (use rotate for a new key)") from None
    app = CallingApp(int(cursor.lastrowid or 0), name)
    return app, _new_key(db, app.id)


def rotate(db: sqlite3.Connection, name: str, grace_s: float = 0.0) -> str:
    """A new key for the app; its live keys stop working after `grace_s` seconds (0: at once)."""
    app_id = _app_id(db, name)
    until = time.time() + grace_s
    db.execute(
        "UPDATE api_keys SET expires_at = ? WHERE app_id = ? AND (expires_at IS NULL OR expires_at > ?)",
        (until, app_id, until),
    )
    return _new_key(db, app_id)


def revoke(db: sqlite3.Connection, name: str) -> int:
    """Every key of the app stops working now; returns how many were live."""
    app_id = _app_id(db, name)
    now = time.time()
    cursor = db.execute(
        "UPDATE api_keys SET expires_at = ? WHERE app_id = ? AND (expires_at IS NULL OR expires_at > ?)",
        (now, app_id, now),
    )
    return int(cursor.rowcount)


def find(db: sqlite3.Connection, key: str) -> CallingApp | None:
    """The app of a live key, or None (unknown, revoked, expired, or not shaped like a key)."""
    if not key.startswith(PREFIX) or len(key) > 128:
        return None
    row = db.execute(
        "SELECT a.id, a.name, k.expires_at, k.last_used, k.key_hash FROM api_keys k "
        "JOIN api_apps a ON a.id = k.app_id WHERE k.key_hash = ?",
        (digest(key),),
    ).fetchone()
    now = time.time()
    if row is None or (row[2] is not None and row[2] <= now):
        return None
    if row[3] is None or now - row[3] > 60:  # "last used" to the minute: no write on every request
        db.execute("UPDATE api_keys SET last_used = ? WHERE key_hash = ?", (now, row[4]))
    return CallingApp(int(row[0]), str(row[1]))


def live_key_count(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT COUNT(*) FROM api_keys WHERE expires_at IS NULL OR expires_at > ?", (time.time(),))
    return int(row.fetchone()[0])


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment)) if moment else "-"


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA busy_timeout=5000")
    schema.migrate(db)  # a new file, or one from an older version
    return db


def main(argv: list[str] | None = None) -> int:
    from bot.config import BotConfig, ConfigError

    parser = argparse.ArgumentParser(
        prog="python -m bot.apikeys",
        description=(
            "Manage the apps that may call the REST API (/api/v1/…) and their keys.  Every REST call needs "
            f"a key ({HEADER_HINT}) unless BOT_REST_DEV_OPEN=1 (local development only).  A key is shown "
            "once, when created or rotated; only its sha256 is stored."
        ),
        epilog=(
            "Examples:\n"
            "  python -m bot.apikeys create portal            # prints the key once: give it to the portal's backend\n"
            "  python -m bot.apikeys rotate portal --grace 3600   # new key; the old one works one more hour\n"
            "  python -m bot.apikeys revoke portal            # the portal's keys stop working now\n"
            "The database is BOT_DB (default $JSB_DATA_DIR/bot.sqlite3); --db overrides it.  Changes apply to a\n"
            "running service at once (keys are looked up per request)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, help="SQLite file of the bot service")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="register a calling app and print its first key")
    make.add_argument("app", help="a short name for the calling app, e.g. portal or wechat-mini")
    make.add_argument("--quiet", action="store_true", help="print only the key (for scripts)")
    turn = commands.add_parser("rotate", help="print a new key for the app; its older keys stop working")
    turn.add_argument("app")
    turn.add_argument("--grace", type=float, default=0.0, metavar="SECONDS", help="old keys keep working this long")
    turn.add_argument("--quiet", action="store_true", help="print only the key (for scripts)")
    stop = commands.add_parser("revoke", help="stop every key of the app now")
    stop.add_argument("app")
    commands.add_parser("list", help="list apps and their keys (prefix, created, last used, expiry)")
    args = parser.parse_args(argv)
    try:
        path = args.db or BotConfig.load().database
    except ConfigError as err:
        print(f"apikeys: {err}", file=sys.stderr)
        return 2
    db = _open(path)
    try:
        if args.command == "list":
            rows = db.execute(
                "SELECT a.name, k.hint, k.created_at, k.last_used, k.expires_at FROM api_apps a "
                "LEFT JOIN api_keys k ON k.app_id = a.id ORDER BY a.name, k.created_at"
            ).fetchall()
            print("app\tkey\tcreated\tlast used\texpires")
            for name, hint, created, used, expires in rows:
                print(f"{name}\t{(hint or '') + '…'}\t{_when(created)}\t{_when(used)}\t{_when(expires)}")
            return 0
        if args.command == "revoke":
            count = revoke(db, args.app)
            print(f"revoked {count} key(s) of {args.app!r}")
            return 0
        if args.command == "create":
            _, key = create(db, args.app)
        else:
            key = rotate(db, args.app, max(0.0, args.grace))
    except ApiKeyError as err:
        print(f"apikeys: {err}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if args.quiet:
        print(key)
    else:
        print(f"key for {args.app!r} (shown only now; keep it secret):\n{key}\nsend it as  {HEADER_HINT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
