"""Rasa's SQL tracker store on its SQLite file, tuned for a turn's cost: WAL, no fsync per commit,
one kept connection.  Loaded by the Rasa process (endpoints.yml `tracker_store: type:
bot.rasa_tracker_store.SQLiteTrackerStore`), beside bot/rasa_lock_store.py.

Why: a profile of a Rasa worker (issue #12) put 17 % of a turn in saving the tracker, most of it
SQLite's commit, which with the defaults (rollback journal, synchronous=FULL) waits for the disk
twice per turn; and SQLAlchemy opened a new connection for every read and write.  In WAL mode with
synchronous=NORMAL a commit survives a crash of Rasa (the WAL is in the file system); only a power
loss may drop the last turns, which the bot service has stored anyway (bot/store.py).  Two Rasa
workers share the file: WAL lets one read while the other writes.

Personal numbers are masked before an event is stored (bot/masking.py): the citizen's words as
typed are kept only in the bot service's message table (the conversation view); the tracker, read by
Rasa for the next turns and by anyone with access to this file, holds 3701**********1234.  Within a
turn Rasa and the actions work on the unmasked message; only what is written here is masked.

A user event is stored without the sentence vector the NLU put in its parse data
(`question_vector`, ~1.4 kB of base64 in JSON): the action server reads it only from the message
being answered, which is in memory during its turn.  Stored, it made every later turn read,
parse and send it to the action server again (Rasa sends the whole session's events with each
action call), once per earlier message of the conversation.

With PostgreSQL (a district's deployment) use this class with `dialect: postgresql`: the tuning
below applies only to SQLite, the masking and the dropped vector to both.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.pool import QueuePool

from bot.masking import mask_value
from knowledge_base.embeddings import QUESTION_VECTOR

log = logging.getLogger(__name__)
_KEPT_AS_IS = ("message_id",)  # identifiers: a retried message is found by its id (bot/rasa_channel.py)


def masked_event(data: dict[str, Any]) -> dict[str, Any]:
    """An event as stored: every string masked except identifiers."""
    masked = mask_value(data)
    for key in _KEPT_AS_IS:
        if key in data:
            masked[key] = data[key]
    return masked


def _pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")  # the other worker's write is short: wait, do not fail
    cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store: tuned on SQLite, masked on every database."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("dialect", "sqlite")
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite":
            return
        # Rasa made a default engine (a new connection per session); keep one instead, with the pragmas.
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=1, max_overflow=4, connect_args={"check_same_thread": False}
        )
        sa.event.listen(self.engine, "connect", _pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """SQLTrackerStore.save (Rasa 3.6) with each event stored without its vector and masked."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = masked_event(stored_event(event.as_dict()))
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        log.debug("tracker saved (masked)")


def stored_event(data: dict[str, Any]) -> dict[str, Any]:
    """An event as stored: a user message without its sentence vector (see the module's doc)."""
    parse_data = data.get("parse_data")
    if isinstance(parse_data, dict) and QUESTION_VECTOR in parse_data:
        data = {**data, "parse_data": {k: v for k, v in parse_data.items() if k != QUESTION_VECTOR}}
    return data
