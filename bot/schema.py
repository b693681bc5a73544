"""The bot service's database: every table of its SQLite file comes from one ordered list of
migrations, run when the store opens (bot/store.py) and by the command-line tools that open the
file themselves (python -m bot.accounts, bot.apikeys, bot.retention).

Each migration names the module that owns its tables: that module writes them and answers the
queries about them; other modules call its functions instead of reading its tables.

    version  owner              tables
    1        bot.store          conversations, messages, ratings, handoffs, unresolved_questions,
                                worklist_outcomes, analytics_events
    2        bot.store          ratings: the five-level 好差评 columns (old binary ratings converted)
    3        bot.accounts       helpers, helper_sessions
    4        bot.apikeys        api_apps, api_keys
    5        bot.helpdesk       helpdesk_claims, kb_drafts, helpdesk_notes
    6        bot.login_guard    login_throttle, login_audit
    7        bot.analytics      analytics_rollup, analytics_watermarks
    8        bot.tracker_outbox tracker_outbox

Applied versions are rows of `schema_version`.  A store written before that table kept its version
in PRAGMA user_version alone (1, or 2 once ratings had five levels; migration 2 still sets it) and
goes on from there; migrations 1 and 3-8 say IF NOT EXISTS, so
tables the older code had created on first use are taken over as they are.

A migration holds its steps per dialect: `sqlite` today.  A second dialect (issue #15, PostgreSQL)
adds its own steps under the same versions; the list, the runner and schema_version stay.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot import ratings

Step = str | Callable[[sqlite3.Connection], None]  # one SQL statement, or a data step


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    owner: str  # the module whose queries read and write these tables
    tables: tuple[str, ...]
    sqlite: tuple[Step, ...]


SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
)


def statements(script: str) -> tuple[str, ...]:
    """A script as its statements (executescript would commit the migration's transaction)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    assert not pending.strip(), f"unfinished statement: {pending!r}"
    return tuple(found)


_STORE = """
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    citizen     TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL  -- when the state last changed
);
CREATE INDEX IF NOT EXISTS conversations_by_citizen ON conversations (channel, external_id, state);

CREATE TABLE IF NOT EXISTS messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    direction       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    text            TEXT NOT NULL,
    payload         TEXT,
    buttons         TEXT,
    entry           TEXT,
    rating          TEXT,
    client_id       TEXT,
    reply_to        INTEGER,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    apologized      INTEGER NOT NULL DEFAULT 0,
    extra           TEXT,
    created_at      REAL NOT NULL,
    answered_at     REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id ON messages (conversation_id, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, seq);
CREATE INDEX IF NOT EXISTS messages_to_retry ON messages (status, next_attempt_at)
    WHERE status IN ('pending', 'undelivered');
CREATE INDEX IF NOT EXISTS messages_pending_age ON messages (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS messages_replies ON messages (reply_to) WHERE reply_to IS NOT NULL;

CREATE TABLE IF NOT EXISTS ratings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    message_seq     INTEGER,
    entry_id        TEXT,
    entry_title     TEXT,
    value           TEXT NOT NULL,   -- good / bad: the old binary summary (level 3-5 good, 1-2 bad)
    comment         TEXT,            -- masked
    created_at      REAL NOT NULL
    -- the five-level columns: migration 2
);

CREATE TABLE IF NOT EXISTS handoffs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    reason          TEXT,
    service         TEXT,
    service_title   TEXT,
    step            INTEGER,
    summary         TEXT,
    created_at      REAL NOT NULL,
    resolved_at     REAL
);
CREATE INDEX IF NOT EXISTS handoffs_by_conversation ON handoffs (conversation_id);

-- Questions the assistant could not answer (fallback) or asked back about (clarify), from the
-- `unresolved` payload; a clarification is resolved when the conversation gets one of its choices.
CREATE TABLE IF NOT EXISTS unresolved_questions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    message_seq     INTEGER NOT NULL,
    text            TEXT NOT NULL,   -- masked
    reason          TEXT NOT NULL,   -- not_found / out_of_scope / no_words / clarify
    choices         TEXT NOT NULL DEFAULT '[]',
    created_at      REAL NOT NULL,
    resolved_at     REAL,
    resolved_entry  TEXT
);
CREATE INDEX IF NOT EXISTS unresolved_open ON unresolved_questions (conversation_id) WHERE resolved_at IS NULL;

-- Staff worklists: each item (an unresolved question, a 差评, a helper draft) closed with an outcome.
CREATE TABLE IF NOT EXISTS worklist_outcomes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    item_kind  TEXT NOT NULL,    -- question / rating / draft
    item_id    INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    entry_id   TEXT,
    note       TEXT,
    actor      TEXT NOT NULL,
    closed_at  REAL NOT NULL,
    UNIQUE (item_kind, item_id)
);

CREATE TABLE IF NOT EXISTS analytics_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      REAL NOT NULL
);
"""

_ACCOUNTS = """
CREATE TABLE IF NOT EXISTS helpers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    presence      TEXT NOT NULL DEFAULT 'away',   -- online / away, shown to other helpers
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS helper_sessions (
    token_hash  TEXT PRIMARY KEY,                 -- sha256 of the cookie value; the value itself is never stored
    helper_id   INTEGER NOT NULL REFERENCES helpers (id),
    csrf        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
"""

_APIKEYS = """
CREATE TABLE IF NOT EXISTS api_apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash    TEXT PRIMARY KEY,                 -- sha256 of the key; the key itself is never stored
    app_id      INTEGER NOT NULL REFERENCES api_apps (id),
    hint        TEXT NOT NULL,                    -- the first characters, so people can tell keys apart
    created_at  REAL NOT NULL,
    expires_at  REAL,                             -- set when rotated with a grace period or revoked
    last_used   REAL
);
"""

_HELPDESK = """
CREATE TABLE IF NOT EXISTS helpdesk_claims (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    handoff_id      INTEGER,
    helper_id       INTEGER NOT NULL REFERENCES helpers (id),
    claimed_at      REAL NOT NULL,
    ended_at        REAL,
    ended_by        TEXT,               -- helper / citizen
    rating          TEXT                -- good / bad, from the citizen after the end
);
-- At most one open claim per conversation: a second INSERT fails even if two processes raced.
CREATE UNIQUE INDEX IF NOT EXISTS helpdesk_claims_open ON helpdesk_claims (conversation_id) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS helpdesk_claims_by_helper ON helpdesk_claims (helper_id) WHERE ended_at IS NULL;
-- 沉淀到知识库: answers helpers mark for the knowledge base, waiting for staff review.
CREATE TABLE IF NOT EXISTS kb_drafts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    question        TEXT NOT NULL,
    answer          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    helper_id       INTEGER NOT NULL REFERENCES helpers (id),
    status          TEXT NOT NULL DEFAULT 'draft',   -- draft / accepted / rejected (staff side)
    created_at      REAL NOT NULL
);
-- Private notes between helpers on a conversation: never shown to the citizen.
CREATE TABLE IF NOT EXISTS helpdesk_notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    helper_id       INTEGER NOT NULL REFERENCES helpers (id),
    text            TEXT NOT NULL,
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS helpdesk_notes_by_conversation ON helpdesk_notes (conversation_id);
"""

_LOGIN_GUARD = """
CREATE TABLE IF NOT EXISTS login_throttle (
    key           TEXT PRIMARY KEY,   -- 'account:<name>' or 'address:<ip>'
    failures      INTEGER NOT NULL,
    last_failure  REAL NOT NULL,
    locked_until  REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS login_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    name      TEXT NOT NULL,
    address   TEXT NOT NULL,
    outcome   TEXT NOT NULL,          -- ok / bad / locked / busy
    wait_s    INTEGER
);
CREATE INDEX IF NOT EXISTS login_audit_at ON login_audit (at);
"""

_ANALYTICS = """
CREATE TABLE IF NOT EXISTS analytics_rollup (
    metric  TEXT NOT NULL,     -- question / answer / clarify / unanswered / handoff
    hour    INTEGER NOT NULL,  -- UTC hours since the epoch
    channel TEXT NOT NULL,
    domain  TEXT NOT NULL,     -- the answered entry's domain, '' when none
    key     TEXT NOT NULL,     -- the entry (answer, handoff), '' otherwise
    count   INTEGER NOT NULL,
    PRIMARY KEY (metric, hour, channel, domain, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analytics_watermarks (source TEXT PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID;
"""

_TRACKER_OUTBOX = """
CREATE TABLE IF NOT EXISTS tracker_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,   -- delivery order
    conversation_id TEXT NOT NULL,
    events          TEXT NOT NULL,                       -- JSON list of Rasa events
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tracker_outbox_by_conversation ON tracker_outbox (conversation_id, id);
"""

# The five-level 好差评 (bot/ratings.py): columns added where missing, old binary ratings read as
# 满意 / 不满意, an old 差评 due as if given now (nobody was told before).
_RATING_COLUMNS = {
    "level": "INTEGER",
    "reason": "TEXT",
    "target": "TEXT NOT NULL DEFAULT 'answer'",  # answer / helper
    "claim_id": "INTEGER",  # helper ratings: the helpdesk claim rated
    "helper": "TEXT",  # helper ratings: the helper's name
    "due_at": "REAL",  # low ratings: when the 整改 is due
}


def _five_level_ratings(db: sqlite3.Connection) -> None:
    have = {row[1] for row in db.execute("PRAGMA table_info(ratings)")}
    for name, kind in _RATING_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE ratings ADD COLUMN {name} {kind}")
    deadline = time.time() + ratings.FOLLOW_UP_DAYS * 86400
    db.execute(
        "UPDATE ratings SET level = CASE value WHEN 'bad' THEN 2 ELSE 4 END, "
        "due_at = CASE value WHEN 'bad' THEN ? END WHERE level IS NULL",
        (deadline,),
    )
    db.execute(
        "UPDATE messages SET rating = CASE rating WHEN 'bad' THEN '2' ELSE '4' END WHERE rating IN ('good', 'bad')"
    )
    db.execute("CREATE INDEX IF NOT EXISTS ratings_by_message ON ratings (message_seq) WHERE message_seq IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS ratings_low ON ratings (level, created_at)")
    db.execute("PRAGMA user_version = 2")  # what the versions before schema_version read


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversations",
        "bot.store",
        (
            "conversations",
            "messages",
            "ratings",
            "handoffs",
            "unresolved_questions",
            "worklist_outcomes",
            "analytics_events",
        ),
        statements(_STORE),
    ),
    Migration(2, "five-level ratings", "bot.store", (), (_five_level_ratings,)),
    Migration(3, "staff accounts", "bot.accounts", ("helpers", "helper_sessions"), statements(_ACCOUNTS)),
    Migration(4, "calling apps", "bot.apikeys", ("api_apps", "api_keys"), statements(_APIKEYS)),
    Migration(5, "helpdesk", "bot.helpdesk", ("helpdesk_claims", "kb_drafts", "helpdesk_notes"), statements(_HELPDESK)),
    Migration(6, "login guard", "bot.login_guard", ("login_throttle", "login_audit"), statements(_LOGIN_GUARD)),
    Migration(
        7, "analytics rollup", "bot.analytics", ("analytics_rollup", "analytics_watermarks"), statements(_ANALYTICS)
    ),
    Migration(8, "tracker outbox", "bot.tracker_outbox", ("tracker_outbox",), statements(_TRACKER_OUTBOX)),
)
LATEST = MIGRATIONS[-1].version


def current_version(db: sqlite3.Connection) -> int:
    """The latest applied migration (for a store from before schema_version: its user_version)."""
    (version,) = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(version) if version is not None else int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> int:
    """Apply what this database lacks, each migration in its own transaction (a crash leaves it at
    the last whole one); the version it is at.  `db` is in autocommit mode (isolation_level=None)."""
    db.execute(SCHEMA_VERSION_TABLE)
    for migration in MIGRATIONS:
        if migration.version <= current_version(db):
            continue
        db.execute("BEGIN IMMEDIATE")  # another process opening the file waits, then finds it done
        try:
            if migration.version > current_version(db):
                for step in migration.sqlite:
                    if isinstance(step, str):
                        db.execute(step)
                    else:
                        step(db)
                db.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return current_version(db)
