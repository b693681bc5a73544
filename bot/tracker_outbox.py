"""Tracker events Rasa must receive before it sees the conversation's next message.

The hand-back after a helper (docs/payloads.md) resets the slot `handoff_active` through Rasa's
tracker API.  If Rasa is down at that moment, the events are kept here, in the bot service's
SQLite file, and delivered in order before the next message of that conversation goes to Rasa (and
by the retry loop once Rasa is back).  Without this, Rasa would still believe a helper owns the
conversation and the citizen's next question would go unanswered.  The table is this module's
(created by bot/schema.py, migration 8).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Any

from bot.logs import fields
from bot.rasa_client import RasaClient

log = logging.getLogger(__name__)


class TrackerOutbox:
    def __init__(self, db: sqlite3.Connection, rasa: RasaClient) -> None:
        self.db = db
        self.rasa = rasa

    async def send(self, conversation_id: str, events: list[dict[str, Any]]) -> bool:
        """Deliver `events` after anything still held for the conversation; keep them if Rasa is down."""
        self.db.execute(
            "INSERT INTO tracker_outbox (conversation_id, events, created_at) VALUES (?, ?, ?)",
            (conversation_id, json.dumps(events, ensure_ascii=False), time.time()),
        )
        return await self.deliver(conversation_id)

    async def deliver(self, conversation_id: str) -> bool:
        """True when nothing is held for the conversation any more."""
        rows = self.db.execute(
            "SELECT id, events FROM tracker_outbox WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
        for row_id, events in rows:
            if not await self.rasa.append_events(conversation_id, json.loads(events)):
                log.warning("tracker_outbox.held", extra=fields(conversation=conversation_id, batches=len(rows)))
                return False
            self.db.execute("DELETE FROM tracker_outbox WHERE id = ?", (row_id,))
        return True

    async def deliver_all(self) -> bool:
        """Deliver what is held for every conversation; False as soon as Rasa refuses again."""
        held = [row[0] for row in self.db.execute("SELECT DISTINCT conversation_id FROM tracker_outbox")]
        for conversation_id in held:
            if not await self.deliver(conversation_id):
                return False  # Rasa is down again: the next retry round goes on
        return True

    def held(self, conversation_id: str | None = None) -> int:
        """How many event batches wait (for one conversation, or for all)."""
        if conversation_id is None:
            return int(self.db.execute("SELECT COUNT(*) FROM tracker_outbox").fetchone()[0])
        row = self.db.execute("SELECT COUNT(*) FROM tracker_outbox WHERE conversation_id = ?", (conversation_id,))
        return int(row.fetchone()[0])


def forget(db: sqlite3.Connection, conversation_ids: list[str]) -> None:
    """Drop what is held for these conversations (their messages were purged: bot/retention.py)."""
    marks = ",".join("?" * len(conversation_ids))
    db.execute(f"DELETE FROM tracker_outbox WHERE conversation_id IN ({marks})", conversation_ids)
