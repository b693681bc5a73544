"""Where Rasa keeps conversations and its conversation lock: endpoints.yml, or the engines named
in the environment.  Used by scripts/rasa_server.py before Rasa reads its endpoints.

endpoints.yml holds the embedded default (a SQLite tracker file and a SQLite lock file, nothing
to start).  A deployment with several hosts sets

| variable              | example                                    | replaces in endpoints.yml           |
|-----------------------|--------------------------------------------|-------------------------------------|
| `RASA_TRACKER_URL`    | `postgresql://rasa:secret@db:5432/rasa`    | `tracker_store` (SQLite file)       |
| `RASA_LOCK_REDIS_URL` | `redis://:secret@redis:6379/1`             | `lock_store` (SQLite file)          |

Either may be set alone.  The tracker store stays bot.rasa_tracker_store (masking, the window of
turns) on PostgreSQL; the lock store is bot.rasa_redis_lock.  Rasa reads one endpoints file, so
this module writes a copy of endpoints.yml with those two sections replaced.  The copy names the
variables (`url: ${RASA_TRACKER_URL}`), which Rasa substitutes when it reads the file: the
passwords in the URLs never reach the disk.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TRACKER_URL = "RASA_TRACKER_URL"
LOCK_URL = "RASA_LOCK_REDIS_URL"
TRACKER_STORE = "bot.rasa_tracker_store.SQLiteTrackerStore"
LOCK_STORE = "bot.rasa_redis_lock.RedisLockStore"

# SQLAlchemy 1.4 (Rasa's) knows no `postgres://`; psycopg2 is the driver it uses for `postgresql://`.
_TRACKER_SCHEMES = ("postgresql://", "postgresql+psycopg2://")
_LOCK_SCHEMES = ("redis://", "rediss://", "unix://")


def engine_sections(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The endpoints sections the environment replaces (none: endpoints.yml as it is)."""
    sections: dict[str, dict[str, Any]] = {}
    tracker = (env.get(TRACKER_URL) or "").strip()
    if tracker:
        if not tracker.startswith(_TRACKER_SCHEMES):
            raise ValueError(f"{TRACKER_URL} must start with postgresql:// (e.g. postgresql://user:pw@host:5432/rasa)")
        sections["tracker_store"] = {"type": TRACKER_STORE, "url": "${" + TRACKER_URL + "}"}
    lock = (env.get(LOCK_URL) or "").strip()
    if lock:
        if not lock.startswith(_LOCK_SCHEMES):
            raise ValueError(f"{LOCK_URL} must start with redis://, rediss:// or unix:// (e.g. redis://host:6379/1)")
        sections["lock_store"] = {"type": LOCK_STORE, "url": "${" + LOCK_URL + "}"}
    return sections


def endpoints_file(path: str, env: Mapping[str, str] | None = None) -> str:
    """`path`, or a copy of it with the engines of the environment (removed when the process ends)."""
    sections = engine_sections(os.environ if env is None else env)
    if not sections:
        return path
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    config.update(sections)
    handle, copy = tempfile.mkstemp(prefix="rasa-endpoints-", suffix=".yml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(f"# {path} with the engines of {', '.join(sorted(_names(sections)))} (bot/rasa_endpoints.py)\n")
        yaml.safe_dump(config, out, sort_keys=False, allow_unicode=True)
    atexit.register(_remove, copy)
    return copy


def with_endpoints(argv: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """A `rasa run` command line whose `--endpoints FILE` names the file for this environment."""
    if len(argv) < 2 or argv[1] != "run" or "--endpoints" not in argv:
        return argv
    at = argv.index("--endpoints") + 1
    if at >= len(argv):
        return argv
    return [*argv[:at], endpoints_file(argv[at], env), *argv[at + 1 :]]


def _names(sections: Mapping[str, Any]) -> list[str]:
    return [TRACKER_URL if name == "tracker_store" else LOCK_URL for name in sections]


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
