"""Staff accounts (online helpers, KB editors and reviewers, admins), passwords hashed with argon2.

    python -m bot.accounts create NAME --role helper|editor|reviewer|admin    (password prompted, or read from stdin)
    python -m bot.accounts list

The accounts live in the bot service's SQLite file (BOT_DB), next to the conversations they work on.
There are no default passwords: with no account at all, the service logs how to create the first one.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot import schema
from bot.shared.roles import ROLES

MIN_PASSWORD_CHARS = 10
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,32}$")
CREATE_HINT = "no helper account yet: create one with  python -m bot.accounts create NAME --role admin"

_hasher = PasswordHasher()
# Verifying against this when the name is unknown takes as long as a real check (no name probing by timing).
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


@dataclass(frozen=True)
class Helper:
    id: int
    name: str
    role: str
    presence: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def create(db: sqlite3.Connection, name: str, role: str, password: str) -> Helper:
    if not NAME_PATTERN.match(name):
        raise AccountError("name: 2-32 letters, digits, Chinese characters, '_', '.' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    try:
        cursor = db.execute(
            "INSERT INTO helpers (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (name, role, _hasher.hash(password), time.time()),
        )
    except sqlite3.IntegrityError:
        raise AccountError(f"an account named {name!r} exists already") from None
    return Helper(int(cursor.lastrowid or 0), name, role, "away")


def lookup(db: sqlite3.Connection, name: str) -> tuple[Helper | None, str]:
    """The enabled account of this name and its password hash; for an unknown name None and a dummy
    hash, so checking it takes as long as a real check (no name probing by timing)."""
    row = db.execute(
        "SELECT id, name, role, presence, password_hash FROM helpers WHERE name = ? AND disabled = 0", (name,)
    ).fetchone()
    if row is None:
        return None, _DUMMY_HASH
    return Helper(row[0], row[1], row[2], row[3]), row[4]


def check_password(stored: str, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one uses old parameters).  Pure CPU, no database: safe
    to run on a worker thread (bot/login_guard.py)."""
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None


def verify(db: sqlite3.Connection, name: str, password: str) -> Helper | None:
    """The helper when name and password match an enabled account, else None (same time either way)."""
    helper, stored = lookup(db, name)
    matches, rehashed = check_password(stored, password)
    if not matches or helper is None:
        return None
    if rehashed:
        db.execute("UPDATE helpers SET password_hash = ? WHERE id = ?", (rehashed, helper.id))
    return helper


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM helpers WHERE disabled = 0").fetchone()[0])


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise AccountError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    from bot.config import BotConfig, ConfigError

    parser = argparse.ArgumentParser(
        prog="python -m bot.accounts",
        description="Manage staff accounts (helpers, KB editors and reviewers, admins) in the bot service's database.",
        epilog="The database is BOT_DB (default $JSB_DATA_DIR/bot.sqlite3); --db overrides it.",
    )
    parser.add_argument("--db", type=Path, help="SQLite file of the bot service")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="create an account; the password is prompted (or read from stdin)")
    make.add_argument("name")
    make.add_argument("--role", choices=ROLES, required=True)
    make.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    commands.add_parser("list", help="list accounts (names and roles)")
    args = parser.parse_args(argv)
    try:
        path = args.db or BotConfig.load().database
    except ConfigError as err:
        print(f"accounts: {err}", file=sys.stderr)
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA busy_timeout=5000")
    schema.migrate(db)  # a new file, or one from an older version
    try:
        if args.command == "list":
            for name, role, disabled in db.execute("SELECT name, role, disabled FROM helpers ORDER BY name"):
                print("\t".join([name, role] + (["disabled"] if disabled else [])))
            return 0
        helper = create(db, args.name, args.role, _read_password(args.password_stdin))
    except AccountError as err:
        print(f"accounts: {err}", file=sys.stderr)
        return 1
    finally:
        db.close()
    print(f"created {helper.role} {helper.name!r} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
