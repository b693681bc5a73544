"""SQLite store for conversations, messages, ratings, handoffs and analytics events.

One connection in WAL mode with synchronous=NORMAL: a write is a few tens of microseconds of CPU and
never waits for the disk, so calls run directly on the event loop (a hop to a worker thread costs more
than the write, and under CPU contention far more).  The one slow operation, the WAL checkpoint that
copies pages into the database file and fsyncs it, runs on its own thread with its own connection.
Methods stay `async` so a networked database could replace this one (issue #15); each does its work
in its own body (no synchronous twin), private helpers only where two methods share a step.
Citizen messages are stored *before* they are sent to Rasa; the retry loop finds unanswered ones
by their `pending` status after any outage or restart.  Tables: bot/schema.py.  Ratings, handoff
summaries and analytics events are stored masked (bot.shared.masking).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bot import ratings, schema
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

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 2.0

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
        schema.migrate(db)  # every table of this file, in one ordered list (bot/schema.py)
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

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    # -- conversations -----------------------------------------------------------------------

    async def create_conversation(
        self, channel: str, external_id: str, citizen: dict[str, Any] | None = None
    ) -> Conversation:
        citizen = citizen or {}
        created = now()
        conversation = Conversation(uuid.uuid4().hex, channel, external_id, State.BOT, created, created, citizen)
        self.db.execute(
            "INSERT INTO conversations (id, channel, external_id, state, citizen, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation.id, channel, external_id, State.BOT.value, _dump(citizen), created, created),
        )
        return conversation

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return self._get_conversation(conversation_id)

    def _get_conversation(self, conversation_id: str) -> Conversation | None:
        row = self.db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return _conversation(row) if row else None

    async def find_open_conversation(self, channel: str, external_id: str) -> Conversation | None:
        row = self.db.execute(
            "SELECT * FROM conversations WHERE channel = ? AND external_id = ? AND state != 'closed' "
            "ORDER BY created_at DESC LIMIT 1",
            (channel, external_id),
        ).fetchone()
        return _conversation(row) if row else None

    async def set_state(self, conversation_id: str, state: State) -> Conversation:
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
        extra = extra or {}
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
        return self._add_outgoing(conversation_id, list(drafts), reply_to, answers, status)

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
        return self._add_outgoing(
            conversation.id,
            list(drafts),
            answers,
            answers,
            Status.SENT,
            [(conversation, kind, data) for kind, data in events],
            status,
        )

    async def get_message(self, seq: int) -> Message | None:
        return self._find_message(seq)

    def _find_message(self, seq: int) -> Message | None:
        row = self.db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE seq = ?", (seq,)).fetchone()
        return _message(row) if row else None

    def _get_message(self, seq: int) -> Message:
        message = self._find_message(seq)
        if message is None:
            raise KeyError(seq)
        return message

    async def mark_answered(self, seq: int) -> None:
        self.db.execute("UPDATE messages SET status = 'answered', answered_at = ? WHERE seq = ?", (now(), seq))

    async def mark_attempt_failed(self, seq: int, next_attempt_at: float) -> Message:
        self.db.execute(
            "UPDATE messages SET attempts = attempts + 1, next_attempt_at = ? WHERE seq = ?", (next_attempt_at, seq)
        )
        return self._get_message(seq)

    async def mark_apologized(self, seq: int) -> None:
        self.db.execute("UPDATE messages SET apologized = 1 WHERE seq = ?", (seq,))

    async def set_status(self, seqs: Iterable[int], status: Status) -> None:
        seqs = list(seqs)
        self.db.executemany("UPDATE messages SET status = ? WHERE seq = ?", [(status.value, seq) for seq in seqs])

    async def next_pending(self, conversation_id: str) -> Message | None:
        """The oldest unanswered citizen message of a conversation (answers keep the citizen's order)."""
        row = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND status = 'pending' "
            "ORDER BY seq LIMIT 1",
            (conversation_id,),
        ).fetchone()
        return _message(row) if row else None

    async def next_pending_and_state(self, conversation_id: str) -> tuple[Message | None, State | None]:
        """The oldest pending message and the conversation's state, in one query (the worker's hot path)."""
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
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE status = 'pending' AND created_at < ? ORDER BY seq LIMIT ?",
            (moment, limit),
        )
        return [_message(row) for row in rows]

    async def pending_in(self, conversation_id: str) -> list[Message]:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND status = 'pending' ORDER BY seq",
            (conversation_id,),
        )
        return [_message(row) for row in rows]

    async def conversations_to_retry(self, due_before: float | None = None) -> list[str]:
        """Conversations with an unanswered message whose next try is due (all of them when None)."""
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
        return int(self.db.execute("SELECT COUNT(*) FROM messages WHERE status = 'pending'").fetchone()[0])

    async def undelivered(self, limit: int = 100, due_before: float | None = None) -> list[Message]:
        """Answers a channel failed to send; with `due_before`, only those whose next try is due."""
        due = "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)" if due_before is not None else ""
        args: tuple[Any, ...] = (due_before, limit) if due_before is not None else (limit,)
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE status = 'undelivered' {due} ORDER BY seq LIMIT ?", args
        )
        return [_message(row) for row in rows]

    async def delivery_failed(self, seq: int, next_attempt_at: float | None) -> None:
        """One more failed send; None: no more tries, the message goes to the dead letters."""
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
        rows = self.db.execute(
            f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (conversation_id, after_seq, limit),
        )
        return [_message(row) for row in rows]

    async def replies_to(self, seq: int) -> list[Message]:
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
        level = ratings.level_of(value)
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
            if claim_id is not None:  # the helper's claim rated (helpdesk_claims: bot/helpdesk.py), in this transaction
                self.db.execute("UPDATE helpdesk_claims SET rating = ? WHERE id = ?", (ratings.binary(level), claim_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rating_id

    async def add_handoff(self, conversation: Conversation, payload: dict[str, Any]) -> None:
        step = payload.get("step")
        self.db.execute(
            "INSERT INTO handoffs (conversation_id, channel, reason, service, service_title, step, summary, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation.id,
                conversation.channel,
                payload.get("reason"),
                payload.get("service"),
                payload.get("service_title"),
                step if isinstance(step, int) else None,
                mask(str(payload.get("summary") or "")) or None,
                now(),
            ),
        )

    async def add_event(self, conversation: Conversation, kind: str, data: dict[str, Any]) -> None:
        self._insert_event(conversation, kind, data, now())

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
        unresolved = list(unresolved)
        answered = list(answered_entries)
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
        self,
        kind: str,
        ids: Sequence[int],
        outcome: str,
        actor: str,
        entry_id: str | None,
        note: str | None,
        also: Callable[[sqlite3.Connection, list[int]], None] | None = None,
    ) -> list[int]:
        """Close worklist items with an outcome; returns the ids closed now (closed ones stay as they were).
        `also(db, closed)` runs in the same transaction (the item's owner marking it: helper drafts)."""
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
            if also is not None and closed:
                also(self.db, closed)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return closed

    async def closed_items(self, kind: str, ids: Sequence[int]) -> list[int]:
        """Which of these worklist items are closed already."""
        marks = ",".join("?" * len(ids))
        sql = f"SELECT item_id FROM worklist_outcomes WHERE item_kind = ? AND item_id IN ({marks})"
        return [row[0] for row in self.db.execute(sql, (kind, *ids))]

    async def existing_items(self, kind: str, ids: Sequence[int]) -> set[int]:
        """Which of these unanswered questions (kind 'question') or ratings ('rating') exist."""
        table = {"question": "unresolved_questions", "rating": "ratings"}[kind]
        marks = ",".join("?" * len(ids))
        return {row[0] for row in self.db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", tuple(ids))}

    async def low_ratings(self, closed: bool = False, low: int = ratings.LOW) -> list[dict[str, Any]]:
        """差评 (level <= `low`) with their worklist outcome and the question before the rated answer,
        open (nearest deadline first) or closed (latest first); at most 1000."""
        sql = (
            "SELECT r.id, r.conversation_id, r.channel, r.message_seq, r.entry_id, r.entry_title, r.comment, "
            "r.level, r.reason, r.target, r.helper, r.due_at, "
            "r.created_at, o.outcome, o.actor, o.closed_at, o.note, o.entry_id AS outcome_entry, "
            "(SELECT q.text FROM messages a JOIN messages q ON q.seq = a.reply_to WHERE a.seq = r.message_seq) "
            "AS question "
            "FROM ratings r LEFT JOIN worklist_outcomes o ON o.item_kind = 'rating' AND o.item_id = r.id "
            f"WHERE r.level <= ? AND o.id IS {'NOT ' if closed else ''}NULL "
            f"ORDER BY {'o.closed_at DESC' if closed else 'r.due_at, r.id'} LIMIT 1000"
        )
        return [dict(row) for row in self.db.execute(sql, (low,))]

    async def low_rating_follow_up(self, since: float, until: float, low: int = ratings.LOW) -> dict[str, Any]:
        """Of the 差评 given in [since, until): how many, closed, closed on time, overdue, and the
        closed ones by outcome."""
        window = "r.level <= ? AND r.created_at >= ? AND r.created_at < ?"
        totals = self.db.execute(
            "SELECT COUNT(*) AS total, COUNT(o.id) AS closed, "
            "SUM(o.id IS NOT NULL AND (r.due_at IS NULL OR o.closed_at <= r.due_at)) AS on_time, "
            "SUM(o.id IS NULL AND r.due_at < ?) AS overdue FROM ratings r "
            "LEFT JOIN worklist_outcomes o ON o.item_kind = 'rating' AND o.item_id = r.id "
            f"WHERE {window}",
            (now(), low, since, until),
        ).fetchone()
        outcomes = self.db.execute(
            "SELECT o.outcome, COUNT(*) AS count FROM worklist_outcomes o JOIN ratings r ON r.id = o.item_id "
            f"WHERE o.item_kind = 'rating' AND {window} GROUP BY o.outcome ORDER BY count DESC",
            (low, since, until),
        ).fetchall()
        return {**dict(totals), "by_outcome": {row["outcome"]: row["count"] for row in outcomes}}

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """A read-only query for tests (the service's own code asks the owning module's methods)."""
        return [dict(row) for row in self.db.execute(sql, args)]


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
