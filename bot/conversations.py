"""Conversations and messages as the service sees them, and the conversation state machine.

    bot ──handoff──▶ waiting_helper ──helper accepts──▶ with_helper
     ▲                  │   └──────citizen goes back────────┐  │
     └──────────────────┴────────────hand back──────────────┘◀─┘
    any state ──▶ closed (final; the channel opens a new conversation next time)

The helper side (claiming, live chat, handing back) is bot/helpdesk.py (docs/helpers.md).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class State(str, enum.Enum):
    BOT = "bot"
    WAITING_HELPER = "waiting_helper"
    WITH_HELPER = "with_helper"
    CLOSED = "closed"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.BOT: frozenset({State.WAITING_HELPER, State.CLOSED}),
    State.WAITING_HELPER: frozenset({State.WITH_HELPER, State.BOT, State.CLOSED}),
    State.WITH_HELPER: frozenset({State.BOT, State.CLOSED}),
    State.CLOSED: frozenset(),
}


class TransitionError(ValueError):
    """A state change the state machine does not allow (e.g. reopening a closed conversation)."""


def check_transition(current: State, new: State) -> None:
    if new not in TRANSITIONS[current]:
        raise TransitionError(f"conversation cannot go from {current.value} to {new.value}")


class Direction(str, enum.Enum):
    IN = "in"  # from the citizen
    OUT = "out"  # to the citizen


class Kind(str, enum.Enum):
    TEXT = "text"  # a citizen's words or the assistant's answer
    NOTICE = "notice"  # the service speaking for itself: apologies, handoff notices, limits


class Status(str, enum.Enum):
    PENDING = "pending"  # incoming, not yet answered by Rasa (waiting or retrying)
    ANSWERED = "answered"  # incoming, Rasa answered
    FOR_HELPER = "for_helper"  # incoming while a helper owns the conversation; not sent to Rasa
    UNANSWERED = "unanswered"  # incoming, given up on (too old, or Rasa keeps answering nothing); kept for helpers
    SENT = "sent"  # outgoing, handed to the channel
    UNDELIVERED = "undelivered"  # outgoing, the channel failed; the retry loop sends it again (with backoff)
    DEAD_LETTER = "dead_letter"  # outgoing, every try failed; listed for admins (/api/admin/dead-letters)


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str
    external_id: str  # the citizen's identity on that channel (visitor id, Telegram chat id, app user id)
    state: State
    created_at: float
    updated_at: float
    citizen: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.id,
            "channel": self.channel,
            "state": self.state.value,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def to_json(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Entry:
    """The knowledge-base entry an answer came from (the `answer` payload)."""

    id: str
    title: str
    kind: str | None = None
    element: str | None = None
    version: int | str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind, "element": self.element}


@dataclass(frozen=True)
class Message:
    seq: int
    conversation_id: str
    direction: Direction
    kind: Kind
    text: str
    status: Status
    created_at: float
    payload: str | None = None  # what a button sent to Rasa (the text is its title)
    buttons: tuple[Button, ...] = ()
    entry: Entry | None = None
    rating: str | None = None  # "1"-"5" (bot/ratings.py) once the citizen rated this answer or helper
    client_id: str | None = None
    reply_to: int | None = None  # out: the incoming message it answers; in: the answer being rated
    attempts: int = 0
    apologized: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rasa_text(self) -> str:
        return self.payload or self.text

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "conversation_id": self.conversation_id,
            "direction": self.direction.value,
            "kind": self.kind.value,
            "text": self.text,
            "buttons": [button.to_json() for button in self.buttons],
            "entry": self.entry.to_json() if self.entry else None,
            "rating": self.rating,
            "client_id": self.client_id,
            "reply_to": self.reply_to,
            "status": self.status.value,
            "created_at": iso(self.created_at),
        }
        if self.extra.get("walkthrough"):
            data["walkthrough"] = self.extra["walkthrough"]
        if self.extra.get("helper"):  # a helper wrote it: citizens see "人工帮办 <name>"
            data["helper"] = self.extra["helper"]
        if self.extra.get("queue"):  # a queue notice: the widget folds these into one live card
            data["queue"] = True
        if self.extra.get("rating_noted"):  # the reason of a low rating was given: no form after a reload
            data["rating_noted"] = True
        if self.extra.get("rate") == "helper":
            data["rate"] = "helper"  # the notice ending a helper's conversation: the citizen may rate it
        return data


@dataclass(frozen=True)
class OutgoingDraft:
    """An answer to store and deliver; it gets its seq from the store."""

    text: str
    kind: Kind = Kind.TEXT
    buttons: tuple[Button, ...] = ()
    entry: Entry | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="milliseconds")


def now() -> float:
    return time.time()
