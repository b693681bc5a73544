"""SQLite store for conversations, messages, ratings, handoffs and analytics events.

One connection in WAL mode with synchronous=NORMAL: a write is a few tens of microseconds of CPU and
never waits for the disk, so calls run directly on the event loop (a hop to a worker thread costs more
than the write, and under CPU contention far more).  The one slow operation, the WAL checkpoint that
copies pages into the database file and fsyncs it, runs on its own thread with its own connection.
Methods stay `async` so a networked database could replace this one.  Citizen messages are stored *before* they are
sent to Rasa; the retry loop finds unanswered ones by their `pending` status after any outage or
restart.  Ratings, handoff summaries and analytics events are stored masked (bot.shared.masking).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bot import apikeys, ratings
from bot.conversations import (
    Button,
    Conversation,
    Direction,
    Entry,
    Kind,
    Message,
    OutgoingDraft,
    State,
    Status,
    check_transition,
    now,
)
from bot.shared.masking import mask, mask_value

T = TypeVar("T")
log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 2.0

# 2: five-level 好差评 (ratings.level/reason/target/claim_id/helper/due_at; messages.rating holds "1"-"5")
SCHEMA_VERSION = 2
SCHEMA = """
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
    -- the five-level columns are added by _migrate, so old and new stores end up alike
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

_MESSAGE_COLUMNS = (
    "seq, conversation_id, direction, kind, text, payload, buttons, entry, rating, client_id, reply_to, "
    "status, attempts, apologized, extra, created_at"
)


class Store:
    """Async facade over one SQLite connection (see the module docstring for why no thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> Store:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; WAL keeps the file consistent
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints happen on the checkpoint thread
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=1000")
        db.executescript(SCHEMA)
        apikeys.ensure_schema(db)  # the REST API's calling apps (python -m bot.apikeys)
        _migrate(db)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db = db
        self._stop.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="bot-store-checkpoint", daemon=True)
        self._checkpointer.start()
        return self

    async def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        if self._db is not None:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            self._db = None

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database file every few seconds, off the event loop."""
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA busy_timeout=1000")
        try:
            while not self._stop.wait(CHECKPOINT_EVERY_S):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as err:
                    log.warning("store.checkpoint_failed", extra={"fields": {"error": str(err)}})
        finally:
            db.close()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    # -- conversations -----------------------------------------------------------------------

    async def create_conversation(
        self, channel: str, external_id: str, citizen: dict[str, Any] | None = None
    ) -> Conversation:
        return await self._run(self._create_conversation, channel, external_id, citizen or {})

    def _create_conversation(self, channel: str, external_id: str, citizen: dict[str, Any]) -> Conversation:
        created = now()
        conversation = Conversation(uuid.uuid4().hex, channel, external_id, State.BOT, created, created, citizen)
        self.db.execute(
            "INSERT INTO conversations (id, channel, external_id, state, citizen, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation.id, channel, external_id, State.BOT.value, _dump(citizen), created, created),
        )
        return conversation

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._run(self._get_conversation, conversation_id)

    def _get_conversation(self, conversation_id: str) -> Conversation | None:
        row = self.db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return _conversation(row) if row else None

    async def find_open_conversation(self, channel: str, external_id: str) -> Conversation | None:
        return await self._run(self._find_open, channel, external_id)

    def _find_open(self, channel: str, external_id: str) -> Conversation | None:
        row = self.db.execute(
            "SELECT * FROM conversations WHERE channel = ? AND external_id = ? AND state != 'closed' "
            "ORDER BY created_at DESC LIMIT 1",
            (channel, external_id),
        ).fetchone()
        return _conversation(row) if row else None

    async def set_state(self, conversation_id: str, state: State) -> Conversation:
        return await self._run(self._set_state, conversation_id, state)

    def _set_state(self, conversation_id: str, state: State) -> Conversation:
        current = self._get_conversation(conversation_id)
        if current is None:
            raise KeyError(conversation_id)
        if current.state == state:
            return current
        check_transition(current.state, state)
        self.db.execute(
            "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?", (state.value, now(), conversation_id)
        )
        updated = self._get_conversation(conversation_id)
        assert updated is not None
        return updated

    # -- messages ----------------------------------------------------------------------------

    async def add_incoming(
        self,
        conversation_id: str,
        text: str,
        *,
        payload: str | None = None,
        client_id: str | None = None,
        reply_to: int | None = None,
        status: Status = Status.PENDING,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Message, bool]:
        """Store a citizen message; (message, True) when this client_id was stored before."""
        return await self._run(
            self._add_incoming, conversation_id, text, payload, client_id, reply_to, status, extra or {}
        )

    def _add_incoming(
        self,
        conversation_id: str,
        text: str,
        payload: str | None,
        client_id: str | None,
        reply_to: int | None,
        status: Status,
        extra: dict[str, Any],
    ) -> tuple[Message, bool]:
        created = now()
        try:
            cursor = self.db.execute(
                "INSERT INTO messages (conversation_id, direction, kind, text, payload, client_id, reply_to, status, "
                "next_attempt_at, extra, created_at) VALUES (?, 'in', 'text', ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, text, payload, client_id, reply_to, status.value, created, _dump(extra), created),
            )
        except sqlite3.IntegrityError:
            # The unique (conversation, client_id) index: a resend of a message stored before.
            row = self.db.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND client_id = ?",
                (conversation_id, client_id),
            ).fetchone()
            if row is None:
                raise
            return _message(row), True
        message = Message(
            seq=int(cursor.lastrowid or 0),
            conversation_id=conversation_id,
            direction=Direction.IN,
            kind=Kind.TEXT,
            text=text,
            status=status,
            created_at=created,
            payload=payload,
            client_id=client_id,
            reply_to=reply_to,
            extra=extra,
        )
        return message, False

    async def add_outgoing(
        self,
        conversation_id: str,
        drafts: Sequence[OutgoingDraft],
        *,
        reply_to: int | None = None,
        answers: int | None = None,
        status: Status = Status.SENT,
    ) -> list[Message]:
        """Store answers; `answers` marks that incoming message answered in the same transaction."""
        return await self._run(self._add_outgoing, conversation_id, list(drafts), reply_to, answers, status)

    def _add_outgoing(
        self,
        conversation_id: str,
        drafts: list[OutgoingDraft],
        reply_to: int | None,
        answers: int | None,
        status: Status,
        events: list[tuple[Conversation, str, dict[str, Any]]] | None = None,
        settled: Status = Status.ANSWERED,
    ) -> list[Message]:
        created = now()
        stored = []
        self.db.execute("BEGIN")
        try:
            for draft in drafts:
                cursor = self.db.execute(
                    "INSERT INTO messages (conversation_id, direction, kind, text, buttons, entry, reply_to, status, "
                    "extra, created_at) VALUES (?, 'out', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        draft.kind.value,
                        draft.text,
                        _dump([b.to_json() for b in draft.buttons]) if draft.buttons else None,
                        _dump(_entry_json(draft.entry)) if draft.entry else None,
                        reply_to,
                        status.value,
                        _dump(draft.extra),
                        created,
                    ),
                )
                stored.append(
                    Message(
                        seq=int(cursor.lastrowid or 0),
                        conversation_id=conversation_id,
                        direction=Direction.OUT,
                        kind=draft.kind,
                        text=draft.text,
                        status=status,
                        created_at=created,
                        buttons=draft.buttons,
                        entry=draft.entry,
                        reply_to=reply_to,
                        extra=draft.extra,
                    )
                )
            if answers is not None:
                self.db.execute(
                    "UPDATE messages SET status = ?, answered_at = ? WHERE seq = ?", (settled.value, created, answers)
                )
            for conversation, kind, data in events or ():
                self._insert_event(conversation, kind, data, created)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return stored

    async def record_answer(
        self,
        conversation: Conversation,
        drafts: Sequence[OutgoingDraft],
        *,
        answers: int,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
        status: Status = Status.ANSWERED,
    ) -> list[Message]:
        """Store the answer, settle the question (`status`) and count analytics events: one transaction."""
        return await self._run(
            self._add_outgoing,
            conversation.id,
            list(drafts),
            answers,
            answers,
            Status.SENT,
            [(conversation, kind, data) for kind, data in events],
            status,
        )

    async def get_message(self, seq: int) -> Message | None:
        return await self._run(self._find_message, seq)

    def _find_message(self, seq: int) -> Message | None:
        row = self.db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE seq = ?", (seq,)).fetchone()
        return _message(row) if row else None

    def _get_message(self, seq: int) -> Message:
        message = self._find_message(seq)
        if message is None:
            raise KeyError(seq)
        return message

    async def mark_answered(self, seq: int) -> None:
        await self._run(
            self._execute, "UPDATE messages SET status = 'answered', answered_at = ? WHERE seq = ?", now(), seq
        )

    async def mark_attempt_failed(self, seq: int, next_attempt_at: float) -> Message:
        return await self._run(self._mark_attempt_failed, seq, next_attempt_at)

    def _mark_attempt_failed(self, seq: int, next_attempt_at: float) -> Message:
        self.db.execute(
            "UPDATE messages SET attempts = attempts + 1, next_attempt_at = ? WHERE seq = ?", (next_attempt_at, seq)
        )
        return self._get_message(seq)

    async def mark_apologized(self, seq: int) -> None:
        await self._run(self._execute, "UPDATE messages SET apologized = 1 WHERE seq = ?", seq)

    async def set_status(self, seqs: Iterable[int], status: Status) -> None:
        await self._run(self._set_status, list(seqs), status)

    def _set_status(self, seqs: list[int], status: Status) -> None:
        self.db.executemany("UPDATE messages SET status = ? WHERE seq = ?", [(status.value, seq) for seq in seqs])

    async def next_pending(self, conversation_id: str) -> Message | None:
        """The oldest unanswered citizen message of a conversation (answers keep the citizen's order)."""
        return await self._run(self._next_pending, conversation_id)

    def _next_pending(self, conversation_id: str) -> Message | None:
        row = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND status = 'pending' "
            "ORDER BY seq LIMIT 1",
            (conversation_id,),
        ).fetchone()
        return _message(row) if row else None

    async def next_pending_and_state(self, conversation_id: str) -> tuple[Message | None, State | None]:
        """The oldest pending message and the conversation's state, in one query (the worker's hot path)."""
        return await self._run(self._next_pending_and_state, conversation_id)

    def _next_pending_and_state(self, conversation_id: str) -> tuple[Message | None, State | None]:
        columns = ", ".join(f"m.{name.strip()}" for name in _MESSAGE_COLUMNS.split(","))
        row = self.db.execute(
            f"SELECT c.state AS conversation_state, {columns} FROM conversations c "
            "LEFT JOIN messages m ON m.seq = (SELECT MIN(seq) FROM messages "
            "WHERE conversation_id = c.id AND status = 'pending') WHERE c.id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            return None, None
        state = State(row["conversation_state"])
        return (_message(row) if row["seq"] is not None else None), state

    async def pending_older_than(self, moment: float, limit: int = 100) -> list[Message]:
        return await self._run(self._pending_older_than, moment, limit)

    def _pending_older_than(self, moment: float, limit: int) -> list[Message]:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE status = 'pending' AND created_at < ? ORDER BY seq LIMIT ?",
            (moment, limit),
        )
        return [_message(row) for row in rows]

    async def pending_in(self, conversation_id: str) -> list[Message]:
        return await self._run(self._pending_in, conversation_id)

    def _pending_in(self, conversation_id: str) -> list[Message]:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND status = 'pending' ORDER BY seq",
            (conversation_id,),
        )
        return [_message(row) for row in rows]

    async def conversations_to_retry(self, due_before: float | None = None) -> list[str]:
        """Conversations with an unanswered message whose next try is due (all of them when None)."""
        return await self._run(self._conversations_to_retry, due_before)

    def _conversations_to_retry(self, due_before: float | None) -> list[str]:
        if due_before is None:
            rows = self.db.execute(
                "SELECT conversation_id, MIN(seq) AS first FROM messages WHERE status = 'pending' "
                "GROUP BY conversation_id ORDER BY first"
            )
        else:
            rows = self.db.execute(
                "SELECT conversation_id, MIN(seq) AS first FROM messages WHERE status = 'pending' "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) GROUP BY conversation_id ORDER BY first",
                (due_before,),
            )
        return [row["conversation_id"] for row in rows]

    async def pending_count(self) -> int:
        return await self._run(self._scalar, "SELECT COUNT(*) FROM messages WHERE status = 'pending'")

    async def undelivered(self, limit: int = 100, due_before: float | None = None) -> list[Message]:
        """Answers a channel failed to send; with `due_before`, only those whose next try is due."""
        return await self._run(self._undelivered, limit, due_before)

    def _undelivered(self, limit: int, due_before: float | None) -> list[Message]:
        due = "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)" if due_before is not None else ""
        args: tuple[Any, ...] = (due_before, limit) if due_before is not None else (limit,)
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE status = 'undelivered' {due} ORDER BY seq LIMIT ?", args
        )
        return [_message(row) for row in rows]

    async def delivery_failed(self, seq: int, next_attempt_at: float | None) -> None:
        """One more failed send; None: no more tries, the message goes to the dead letters."""
        await self._run(self._delivery_failed, seq, next_attempt_at)

    def _delivery_failed(self, seq: int, next_attempt_at: float | None) -> None:
        if next_attempt_at is None:
            self.db.execute(
                "UPDATE messages SET attempts = attempts + 1, next_attempt_at = NULL, status = 'dead_letter' "
                "WHERE seq = ?",
                (seq,),
            )
        else:
            self.db.execute(
                "UPDATE messages SET attempts = attempts + 1, next_attempt_at = ?, status = 'undelivered' "
                "WHERE seq = ?",
                (next_attempt_at, seq),
            )

    async def dead_letters(self, limit: int = 200) -> list[dict[str, Any]]:
        """Answers never delivered after every try, newest first, with their conversation's channel."""
        return await self._run(self._dead_letters, limit)

    def _dead_letters(self, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT m.seq, m.conversation_id, c.channel, m.text, m.attempts, m.created_at FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.status = 'dead_letter' "
            "ORDER BY m.seq DESC LIMIT ?",
            (limit,),
        )
        keys = ("seq", "conversation_id", "channel", "text", "attempts", "created_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    async def history(self, conversation_id: str, after_seq: int = 0, limit: int = 200) -> list[Message]:
        """The newest `limit` messages after `after_seq`, oldest first."""
        return await self._run(self._history, conversation_id, after_seq, limit)

    def _history(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        rows = self.db.execute(
            f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (conversation_id, after_seq, limit),
        )
        return [_message(row) for row in rows]

    async def replies_to(self, seq: int) -> list[Message]:
        return await self._run(self._replies_to, seq)

    def _replies_to(self, seq: int) -> list[Message]:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE reply_to = ? AND direction = 'out' ORDER BY seq", (seq,)
        )
        return [_message(row) for row in rows]

    # -- analytics (masked) ------------------------------------------------------------------

    async def add_rating(
        self,
        conversation: Conversation,
        value: str | int,
        *,
        message_seq: int | None,
        entry_id: str | None,
        entry_title: str | None,
        comment: str | None,
        reason: str | None = None,
        target: str = "answer",
        claim_id: int | None = None,
        helper: str | None = None,
        due_at: float | None = None,
    ) -> int:
        """Store a rating (a 1-5 level, or the old good/bad); a second one on the same message replaces
        the first.  Returns the rating's id."""
        return await self._run(
            self._add_rating,
            conversation,
            ratings.level_of(value),
            message_seq,
            entry_id,
            entry_title,
            comment,
            reason,
            target,
            claim_id,
            helper,
            due_at,
        )

    def _add_rating(
        self,
        conversation: Conversation,
        level: int,
        message_seq: int | None,
        entry_id: str | None,
        entry_title: str | None,
        comment: str | None,
        reason: str | None,
        target: str,
        claim_id: int | None,
        helper: str | None,
        due_at: float | None,
    ) -> int:
        when = now()
        low = ratings.is_low(level)
        if low and due_at is None:
            due_at = when + ratings.FOLLOW_UP_DAYS * 86400
        masked = mask(comment) if comment else None
        self.db.execute("BEGIN")
        try:
            row = None
            if message_seq is not None:
                row = self.db.execute(
                    "SELECT id, due_at FROM ratings WHERE conversation_id = ? AND message_seq = ? ORDER BY id DESC",
                    (conversation.id, message_seq),
                ).fetchone()
            if row is None:
                cursor = self.db.execute(
                    "INSERT INTO ratings (conversation_id, channel, message_seq, entry_id, entry_title, value, "
                    "comment, created_at, level, reason, target, claim_id, helper, due_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation.id,
                        conversation.channel,
                        message_seq,
                        entry_id,
                        entry_title,
                        ratings.binary(level),
                        masked,
                        when,
                        level,
                        reason,
                        target,
                        claim_id,
                        helper,
                        due_at if low else None,
                    ),
                )
                rating_id = int(cursor.lastrowid or 0)
            else:
                # Changing one's mind (or adding the reason after the level) keeps the first deadline.
                rating_id = row["id"]
                keep_due = row["due_at"] if row["due_at"] is not None else due_at
                self.db.execute(
                    "UPDATE ratings SET value = ?, level = ?, reason = ?, comment = ?, due_at = ? WHERE id = ?",
                    (ratings.binary(level), level, reason, masked, keep_due if low else None, rating_id),
                )
            if message_seq is not None:
                # Whether the low rating's reason was given: after a reload the widget shows the thanks,
                # not the reason form again (a new level without a reason asks again).
                self.db.execute(
                    "UPDATE messages SET rating = ?, extra = json_set(COALESCE(extra, '{}'), '$.rating_noted', "
                    "json(?)) WHERE seq = ?",
                    (str(level), "true" if reason or comment else "false", message_seq),
                )
            if claim_id is not None and _has_table(self.db, "helpdesk_claims"):
                self.db.execute("UPDATE helpdesk_claims SET rating = ? WHERE id = ?", (ratings.binary(level), claim_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rating_id

    async def add_handoff(self, conversation: Conversation, payload: dict[str, Any]) -> None:
        step = payload.get("step")
        await self._run(
            self._execute,
            "INSERT INTO handoffs (conversation_id, channel, reason, service, service_title, step, summary, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            conversation.id,
            conversation.channel,
            payload.get("reason"),
            payload.get("service"),
            payload.get("service_title"),
            step if isinstance(step, int) else None,
            mask(str(payload.get("summary") or "")) or None,
            now(),
        )

    async def add_event(self, conversation: Conversation, kind: str, data: dict[str, Any]) -> None:
        await self._run(self._insert_event, conversation, kind, data, now())

    def _insert_event(self, conversation: Conversation, kind: str, data: dict[str, Any], when: float) -> None:
        self.db.execute(
            "INSERT INTO analytics_events (conversation_id, channel, kind, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (conversation.id, conversation.channel, kind, _dump(mask_value(data)), when),
        )

    # -- staff worklists ---------------------------------------------------------------------

    async def track_questions(
        self,
        conversation: Conversation,
        message: Message,
        unresolved: Sequence[dict[str, Any]],
        answered_entries: Sequence[str],
    ) -> None:
        """Settle open clarifications this answer chose from, then note the turn's unresolved question."""
        await self._run(self._track_questions, conversation, message, list(unresolved), list(answered_entries))

    def _track_questions(
        self, conversation: Conversation, message: Message, unresolved: list[dict[str, Any]], answered: list[str]
    ) -> None:
        when = now()
        for entry_id in answered:
            self.db.execute(
                "UPDATE unresolved_questions SET resolved_at = ?, resolved_entry = ? WHERE conversation_id = ? "
                "AND reason = 'clarify' AND resolved_at IS NULL "
                "AND EXISTS (SELECT 1 FROM json_each(choices) WHERE value = ?)",
                (when, entry_id, conversation.id, entry_id),
            )
        for item in unresolved:
            # "都不是" rejects the choices: the clarification stays open, its words are not a question.
            if item["reason"] == "none_of_them":
                continue
            self.db.execute(
                "INSERT INTO unresolved_questions (conversation_id, channel, message_seq, text, reason, choices, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    conversation.channel,
                    message.seq,
                    mask(message.text),
                    item["reason"],
                    _dump(item["choices"]),
                    when,
                ),
            )

    async def open_unresolved(self, limit: int = 2000) -> list[dict[str, Any]]:
        """Unresolved questions (fallbacks, clarifications nobody chose from) not yet closed by staff."""
        return await self.rows(
            "SELECT q.* FROM unresolved_questions q WHERE q.resolved_at IS NULL AND q.reason != 'no_words' "
            "AND NOT EXISTS (SELECT 1 FROM worklist_outcomes o WHERE o.item_kind = 'question' AND o.item_id = q.id) "
            "ORDER BY q.id DESC LIMIT ?",
            limit,
        )

    async def close_items(
        self, kind: str, ids: Sequence[int], outcome: str, actor: str, entry_id: str | None, note: str | None
    ) -> list[int]:
        """Close worklist items with an outcome; returns the ids closed now (closed ones stay as they were)."""
        return await self._run(self._close_items, kind, list(ids), outcome, actor, entry_id, note)

    def _close_items(
        self, kind: str, ids: list[int], outcome: str, actor: str, entry_id: str | None, note: str | None
    ) -> list[int]:
        closed = []
        when = now()
        self.db.execute("BEGIN")
        try:
            for item_id in ids:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO worklist_outcomes (item_kind, item_id, outcome, entry_id, note, actor, "
                    "closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, item_id, outcome, entry_id, mask(note) if note else None, actor, when),
                )
                if cursor.rowcount:
                    closed.append(item_id)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return closed

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Read-only query for reports and tests."""
        return await self._run(self._rows, sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(sql, args)]

    # -- helpers -----------------------------------------------------------------------------

    def _execute(self, sql: str, *args: Any) -> None:
        self.db.execute(sql, args)

    def _scalar(self, sql: str, *args: Any) -> Any:
        return self.db.execute(sql, args).fetchone()[0]


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


_RATING_COLUMNS = {
    "level": "INTEGER",
    "reason": "TEXT",
    "target": "TEXT NOT NULL DEFAULT 'answer'",  # answer / helper
    "claim_id": "INTEGER",  # helper ratings: the helpdesk claim rated
    "helper": "TEXT",  # helper ratings: the helper's name
    "due_at": "REAL",  # low ratings: when the 整改 is due
}


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older store up to SCHEMA_VERSION; idempotent, and quick when there is nothing to do."""
    have = {row[1] for row in db.execute("PRAGMA table_info(ratings)")}
    for name, kind in _RATING_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE ratings ADD COLUMN {name} {kind}")
    if db.execute("PRAGMA user_version").fetchone()[0] < 2:
        # Binary ratings read as 满意 / 不满意; an old 差评 is due as if given now (nobody was told before).
        deadline = now() + ratings.FOLLOW_UP_DAYS * 86400
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


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        "kind": entry.kind,
        "element": entry.element,
        "version": entry.version,
    }


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        channel=row["channel"],
        external_id=row["external_id"],
        state=State(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        citizen=json.loads(row["citizen"] or "{}"),
    )


def _message(row: sqlite3.Row) -> Message:
    entry = json.loads(row["entry"]) if row["entry"] else None
    return Message(
        seq=row["seq"],
        conversation_id=row["conversation_id"],
        direction=Direction(row["direction"]),
        kind=Kind(row["kind"]),
        text=row["text"],
        status=Status(row["status"]),
        created_at=row["created_at"],
        payload=row["payload"],
        buttons=tuple(Button(b["title"], b["payload"]) for b in json.loads(row["buttons"] or "[]")),
        entry=Entry(**entry) if entry else None,
        rating=row["rating"],
        client_id=row["client_id"],
        reply_to=row["reply_to"],
        attempts=row["attempts"],
        apologized=bool(row["apologized"]),
        extra=json.loads(row["extra"] or "{}"),
    )
