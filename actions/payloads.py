"""The custom payloads of docs/payloads.md, built in one place so every action emits the same
shape.  The bot service acts on them; citizens never see them as text."""

from __future__ import annotations

from typing import Any, Literal

from knowledge_base.models import Entry

from . import knowledge

HandoffReason = Literal["request_human", "fallback", "stuck", "complaint"]
# Why a question was not answered: the search found nothing, it is outside what the assistant
# covers, it had no words, the assistant asked which entry was meant, or the citizen said none of them.
UnresolvedReason = Literal["not_found", "out_of_scope", "no_words", "clarify", "none_of_them"]


def answer(entry: Entry, element: str | None = None) -> dict[str, Any]:
    """Right after every text answer taken from the knowledge base."""
    return {
        "type": "answer",
        "entry_id": entry.id,
        "entry_title": knowledge.title(entry),
        "entry_kind": entry.kind,
        "element": element,
        "entry_version": knowledge.version(entry.id),
    }


def handoff(reason: HandoffReason, service: Entry | None, step: int | None, summary: str) -> dict[str, Any]:
    return {
        "type": "handoff",
        "reason": reason,
        "service": service.id if service else None,
        "service_title": knowledge.title(service) if service else None,
        "step": step,
        "summary": summary,
    }


def rating(value: Literal["good", "bad"], entry_id: str | None, comment: str | None) -> dict[str, Any]:
    return {"type": "rating", "value": value, "entry_id": entry_id, "comment": comment}


def walkthrough(entry_id: str, step: int, total: int) -> dict[str, Any]:
    return {"type": "walkthrough", "entry_id": entry_id, "step": step, "total": total}


def unresolved(reason: UnresolvedReason, choices: tuple[Entry, ...] = ()) -> dict[str, Any]:
    """After a fallback or a clarifying question: staff see these questions in their worklist."""
    return {"type": "unresolved", "reason": reason, "choices": [entry.id for entry in choices]}
