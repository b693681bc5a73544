"""Reading the conversation: what the citizen just said, which entities came with it, and what
happened in earlier turns.  Button payloads ("/intent{...}") are not the citizen's words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from opencc_purepy import OpenCC
from rasa_sdk import Tracker

from knowledge_base.question import question_part

from . import slots

# Intents whose text is a question worth quoting to a helper.
# A message worth quoting has at least one letter, digit or CJK character (not only emoji).
_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
QUESTION_INTENTS = frozenset(
    {
        "ask_service",
        "ask_element",
        "start_walkthrough",
        "ask_nearest_center",
        "nlu_fallback",
        "out_of_scope",
        "complain",
    }
)


@lru_cache(maxsize=1)
def _to_simplified() -> OpenCC:
    return OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional characters written as simplified ("辦身份證要帶什麼材料" → "办身份证要带什么材料"):
    the knowledge base, the cue words and the place names are simplified.  Character for character,
    so the NLU's entity offsets still point at the same words."""
    converted = _to_simplified().convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(c if len(s := _to_simplified().convert(c)) != 1 else s for c in text)


def latest_text(tracker: Tracker) -> str:
    """The citizen's own words in the latest message ("" for a button payload or no text), in
    simplified characters."""
    text = str(tracker.latest_message.get("text") or "").strip()
    return "" if text.startswith("/") else simplified(text)


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    """The entities of this name in the latest message; services in the order they are meant
    (`_meant_first`)."""
    found = [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name]
    if name == "service" and len(found) > 1:
        return _meant_first(found, str(tracker.latest_message.get("text") or ""))
    return found


def _meant_first(found: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Several services named in one message: the one in its asking part comes first, else the one
    named last (a story comes before the question): "…想把房子过户到俺娘名下，听说叫继承登记，俺想问问
    要准备啥材料" asks about 继承登记, not the 过户 of the story."""
    part = question_part(text)
    at = text.find(part)

    def inside(entity: dict[str, Any]) -> bool:
        start, end = entity.get("start"), entity.get("end")
        return at >= 0 and isinstance(start, int) and isinstance(end, int) and at <= start and end <= at + len(part)

    asked = [e for e in found if inside(e)]
    meant = (asked or found)[-1]
    return [meant, *(e for e in found if e is not meant)]


def entity_value(tracker: Tracker, name: str) -> str | None:
    """The first value of an entity in the latest message, as text ('' counts as none)."""
    for entity in entities(tracker, name):
        value = entity.get("value")
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def entity_text(tracker: Tracker, name: str) -> str | None:
    """The words of the message an entity was read from (None without a span, e.g. a button)."""
    text = str(tracker.latest_message.get("text") or "")
    for entity in entities(tracker, name):
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            return text[start:end]
    return None


def without_entities(text: str, tracker: Tracker, names: tuple[str, ...]) -> str:
    """The text with the spans of these entities cut out (spans come from the NLU)."""
    spans = sorted(
        (int(e["start"]), int(e["end"]))
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") in names and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    )
    out, position = [], 0
    for start, end in spans:
        if start >= position:
            out.append(text[position:start])
            position = end
    out.append(text[position:])
    return " ".join(part for part in out if part.strip())


def _user_turns(tracker: Tracker) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(user event, the events after it up to the next user event), newest turn first."""
    after: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            yield event, list(reversed(after))
            after = []
        else:
            after.append(event)


def previous_fallback_streak(tracker: Tracker) -> int:
    """The fallback streak the previous turn ended with (0 if the assistant helped in it).

    Read from the events of that turn, not from the slot alone, so a turn answered by a plain
    response (greeting, thanks) also breaks the streak."""
    turns = _user_turns(tracker)
    next(turns, None)  # the current turn
    previous = next(turns, None)
    if previous is None:
        return 0
    for event in reversed(previous[1]):
        if event.get("event") == "slot" and event.get("name") == slots.FALLBACK_STREAK:
            try:
                return int(event.get("value") or 0)
            except (TypeError, ValueError):
                return 0
    return 0


def previous_text(tracker: Tracker) -> str:
    """The citizen's words in the message before the latest one ("" for a button or none)."""
    turns = _user_turns(tracker)
    next(turns, None)  # the current turn
    previous = next(turns, None)
    text = str(previous[0].get("text") or "").strip() if previous else ""
    return "" if text.startswith("/") else simplified(text)


def last_question(tracker: Tracker) -> str:
    """The citizen's most recent message that asked something in words (for a helper's summary)."""
    for user, _ in _user_turns(tracker):
        text = str(user.get("text") or "").strip()
        intent = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
        if not text.startswith("/") and _WORDLIKE.search(text) and intent in QUESTION_INTENTS:
            return text
    return ""
