"""Rasa's SQL tracker store on its SQLite file, tuned for a turn's cost: WAL, no fsync per commit,
one kept connection.  Loaded by the Rasa process (endpoints.yml `tracker_store: type:
bot.rasa_tracker_store.SQLiteTrackerStore`), beside bot/rasa_lock_store.py.

Why: a profile of a Rasa worker (issue #12) put 17 % of a turn in saving the tracker, most of it
SQLite's commit, which with the defaults (rollback journal, synchronous=FULL) waits for the disk
twice per turn; and SQLAlchemy opened a new connection for every read and write.  In WAL mode with
synchronous=NORMAL a commit survives a crash of Rasa (the WAL is in the file system); only a power
loss may drop the last turns, which the bot service has stored anyway (bot/store.py).  Two Rasa
workers share the file: WAL lets one read while the other writes.

Personal numbers are masked before an event is stored (bot/shared/masking.py): the citizen's words as
typed are kept only in the bot service's message table (the conversation view); the tracker, read by
Rasa for the next turns and by anyone with access to this file, holds 3701**********1234.  Within a
turn Rasa and the actions work on the unmasked message; only what is written here is masked.

A user event is stored without the sentence vector the NLU put in its parse data
(`question_vector`, ~1.4 kB of base64 in JSON): the action server reads it only from the message
being answered, which is in memory during its turn.  Stored, it made every later turn read,
parse and send it to the action server again (Rasa sends the whole session's events with each
action call), once per earlier message of the conversation.

Rasa works on the last turns of a long session, not on all of it (RASA_TRACKER_TURNS, default
20).  Rasa's own store loads every event of the current session for every turn, and a session
lasts until the citizen is quiet for an hour (domain.yml), so a long conversation made every turn
dearer: each turn decoded and replayed all its events, the policies rebuilt their states over all
of them (twice per turn), and every action call sent them all to the action server.  A profile of
a Rasa worker in a conversation of ~1,500 events put a third of its time in loading them and half
in the policies.  `retrieve` now loads the events from the Nth latest `action_listen` on, after
the latest event of each kind that holds state from before that point (each slot's latest value,
the active loop and whether it was interrupted, pause/resume, a reset of the slots, a restart, the
session start), in their stored order: replayed, they give the same slots, loop and pause as the
whole session.  The policies look back a few turns (max_history 4, rules) and the actions at the
last two (actions/turns.py), so they decide as before.  A session with an undone or rewound event
before the window, or shorter than the window, is loaded whole, as Rasa does.  `save` stores only
what the turn added (Rasa counts the stored events and would skip them otherwise).  Every event
stays in the database: the HTTP API's tracker, `rasa export` and the bot service read them all.

On PostgreSQL (RASA_TRACKER_URL, bot/rasa_endpoints.py, docs/deployment.md) the same class is
used: the tuning below applies only to SQLite, the masking, the dropped vector and the window to
both (tests/scale runs the window's tests on PostgreSQL).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    LegacyForm,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.pool import QueuePool

from bot.shared.masking import mask_value
from knowledge_base.embeddings import QUESTION_VECTOR

log = logging.getLogger(__name__)
_KEPT_AS_IS = ("message_id",)  # identifiers: a retried message is found by its id (bot/rasa_channel.py)

TURNS_KEPT = 20  # RASA_TRACKER_TURNS: turns of the current session Rasa works on (0: all)
# Kinds of events that hold state beyond their turn: only the latest of each kind (each slot by its
# name) is needed to rebuild it.  Events that undo others need the whole history (loaded whole).
_STATE_KINDS = {
    SlotSet.type_name: "slot",
    ActiveLoop.type_name: "loop",
    LegacyForm.type_name: "loop",
    LoopInterrupted.type_name: "interrupted",
    ConversationPaused.type_name: "paused",
    ConversationResumed.type_name: "paused",
    AllSlotsReset.type_name: "reset",
    Restarted.type_name: "restart",
    SessionStarted.type_name: "session",
}
_UNDOING = (UserUtteranceReverted.type_name, ActionReverted.type_name)
# On a tracker loaded in part: how many of the session's stored events were left out (for `save`).
_LEFT_OUT = "_jsb_events_left_out"


def turns_kept() -> int:
    value = os.environ.get("RASA_TRACKER_TURNS", "").strip()
    return max(0, int(value)) if value else TURNS_KEPT


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

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session's tracker: its last turns after the state they start from (module doc)."""
        turns = turns_kept()
        if not turns or not self.domain:
            return await super().retrieve(sender_id)
        event = self.SQLEvent
        with self.session_scope() as session:
            in_session = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            start = (
                in_session.filter(event.type_name == ActionExecuted.type_name, event.action_name == ACTION_LISTEN_NAME)
                .order_by(None)
                .order_by(event.id.desc())
                .offset(turns)  # the listen before the Nth latest turn
                .limit(1)
                .with_entities(event.id)
                .scalar()
            )
            before = in_session.filter(event.id < start) if start is not None else None
            if before is None or before.filter(event.type_name.in_(_UNDOING)).first() is not None:
                return await super().retrieve(sender_id)
            kind = sa.case(
                (event.type_name == SlotSet.type_name, sa.literal("slot:") + event.action_name),
                *((event.type_name == name, sa.literal(k)) for name, k in _STATE_KINDS.items() if k != "slot"),
            )
            latest = [
                row[0]
                for row in before.filter(event.type_name.in_(tuple(_STATE_KINDS)))
                .order_by(None)
                .with_entities(sa.func.max(event.id))
                .group_by(kind)
            ]
            rows = in_session.filter(sa.or_(event.id >= start, event.id.in_(latest))).all()
            stored = in_session.count()
            events = [json.loads(row.data) for row in rows]
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        setattr(tracker, _LEFT_OUT, stored - len(events))
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Any]:
        """The events of `tracker` not stored yet, also when it was loaded in part."""
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        first_new = max(0, stored - getattr(tracker, _LEFT_OUT, 0))
        return itertools.islice(tracker.events, first_new, len(tracker.events))

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
