"""Read Rasa's REST-channel reply into things the service acts on (docs/payloads.md).

Texts and buttons become outgoing drafts.  `custom` objects are never shown as text:
  answer      -> the entry is attached to the text answer just before it (so ratings can name it)
  walkthrough -> the step is attached to the text before it, and counted
  handoff     -> the conversation goes to waiting_helper
  rating      -> stored for analytics
  unresolved  -> the question goes to the staff's worklist of unanswered questions
Unknown custom types are logged and dropped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from bot.conversations import Button, Entry, OutgoingDraft
from bot.logs import fields

log = logging.getLogger(__name__)

RATE_GOOD = "rate_good"
RATE_BAD = "rate_bad"


@dataclass
class Interpretation:
    drafts: list[OutgoingDraft] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    ratings: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answered_entries(self) -> list[str]:
        return [draft.entry.id for draft in self.drafts if draft.entry is not None]


def interpret(replies: list[dict[str, Any]]) -> Interpretation:
    result = Interpretation()
    for reply in replies:
        if not isinstance(reply, dict):
            log.warning("rasa.reply.ignored", extra=fields(reason="not an object"))
            continue
        text = reply.get("text")
        buttons = _buttons(reply.get("buttons"))
        if isinstance(text, str) and text.strip():
            result.drafts.append(OutgoingDraft(text=text, buttons=buttons))
        elif buttons:
            # Buttons without text (rare) still need a bubble to hang on.
            result.drafts.append(OutgoingDraft(text="请选择：", buttons=buttons))
        image = reply.get("image")
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            result.drafts.append(OutgoingDraft(text=image, extra={"image": image}))
        custom = reply.get("custom")
        if custom is not None:
            _custom(custom, result)
    return result


def _custom(custom: Any, result: Interpretation) -> None:
    if not isinstance(custom, dict) or not isinstance(custom.get("type"), str):
        log.warning("rasa.custom.ignored", extra=fields(reason="no type"))
        return
    kind = custom["type"]
    if kind == "answer":
        entry_id, title = custom.get("entry_id"), custom.get("entry_title")
        if not isinstance(entry_id, str) or not entry_id:
            log.warning("rasa.custom.ignored", extra=fields(type=kind, reason="no entry_id"))
            return
        entry = Entry(
            id=entry_id,
            title=str(title or entry_id),
            kind=_str_or_none(custom.get("entry_kind")),
            element=_str_or_none(custom.get("element")),
            version=custom.get("entry_version"),
        )
        _attach_to_last(result, entry=entry)
        result.events.append(("answer", {"entry_id": entry.id, "element": entry.element, "kind": entry.kind}))
    elif kind == "walkthrough":
        step = {"entry_id": custom.get("entry_id"), "step": custom.get("step"), "total": custom.get("total")}
        _attach_to_last(result, walkthrough=step)
        result.events.append(("walkthrough", step))
    elif kind == "handoff":
        result.handoff = custom
        result.events.append(("handoff", {k: custom.get(k) for k in ("reason", "service", "step")}))
    elif kind == "rating":
        if custom.get("value") in ("good", "bad"):
            result.ratings.append(custom)
        else:
            log.warning("rasa.custom.ignored", extra=fields(type=kind, reason="value is not good/bad"))
    elif kind == "unresolved":
        choices = custom.get("choices")
        ids = [c for c in choices if isinstance(c, str) and c] if isinstance(choices, list) else []
        result.unresolved.append({"reason": _str_or_none(custom.get("reason")) or "not_found", "choices": ids})
    else:
        log.info("rasa.custom.unknown", extra=fields(type=kind))


def _attach_to_last(result: Interpretation, *, entry: Entry | None = None, walkthrough: dict | None = None) -> None:
    if not result.drafts:
        log.warning("rasa.custom.unattached", extra=fields(reason="no text before the payload"))
        return
    last = result.drafts[-1]
    if entry is not None:
        result.drafts[-1] = replace(last, entry=entry)
    if walkthrough is not None:
        result.drafts[-1] = replace(last, extra={**last.extra, "walkthrough": walkthrough})


def _buttons(raw: Any) -> tuple[Button, ...]:
    if not isinstance(raw, list):
        return ()
    buttons = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("title"), str):
            payload = item.get("payload")
            buttons.append(Button(title=item["title"], payload=str(payload if payload is not None else item["title"])))
    return tuple(buttons)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def rating_payload(value: str, entry: Entry | None) -> str:
    """The message a 好评/差评 click sends to Rasa: an intent with the rated entry as entity."""
    intent = RATE_GOOD if value == "good" else RATE_BAD
    if entry is None:
        return f"/{intent}"
    return f"/{intent}" + json.dumps({"entry_id": entry.id}, ensure_ascii=False, separators=(",", ":"))
