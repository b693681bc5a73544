"""Answering questions about services from the knowledge base (ask_service, ask_element,
choose_entry), with the service in context for follow-ups and a clarifying question when the
search is not sure.

Which entry a question is about:
- element questions ("要带什么材料", "那要多少钱") are answered from a guide's elements: the
  guide named by the NLU's `service` entity, else the guide the rest of the message names (the
  element words cut out) when the search is sure of it, else the service in context (slot
  `service_id`);
- other questions search guides and Q&As with the whole message; a Q&A is answered verbatim, a
  guide with its plain summary and the elements to ask next;
- close hits or weak coverage lead to "您想问的是…?" with at most 3 choices, unless one of them
  is about the service in context (or, for an element question, there is a service in context
  at all); below the confidence floor nothing is answered
  (thresholds and their measurements: actions/config.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import ELEMENT_LABELS, QA, Entry, Guide

from . import knowledge, payloads, slots, texts, turns
from .matching import Match, matter_of
from .privacy import mask, shorten
from .recovery import cannot_help

logger = logging.getLogger(__name__)

GUIDE_ONLY = ("guide",)


@dataclass(frozen=True)
class Resolution:
    outcome: Literal["answer", "clarify", "none", "ask"]
    entries: tuple[Entry, ...] = ()


def _entries(match: Match) -> tuple[Entry, ...]:
    found = (knowledge.get(hit.id) for hit in match.choices)
    return tuple(e for e in found if e is not None)


def _in_context(entries: tuple[Entry, ...], current: Entry | None) -> Entry | None:
    """The choice about the same matter as the service in context, if any."""
    if current is None:
        return None
    wanted = matter_of(current)
    return next((e for e in entries if matter_of(e) == wanted), None)


def requested_element(tracker: Tracker, text: str) -> str | None:
    """The element asked about: the NLU's entity, else a cue word when the intent is ask_element
    or when the message is nothing but an element question ("多少钱?")."""
    value = turns.entity_value(tracker, "element")
    if value in ELEMENT_LABELS:
        return value
    detected = texts.detect_element(text)
    if detected and (
        turns.latest_intent(tracker) == "ask_element" or not knowledge.has_terms(texts.strip_element_cues(text))
    ):
        return detected
    return None


async def resolve(tracker: Tracker, text: str, element: str | None) -> Resolution:
    current = knowledge.get(tracker.get_slot(slots.SERVICE_ID))
    name = turns.entity_value(tracker, "service")
    named = knowledge.guide_by_name(name) if name else None
    if element:
        return await _resolve_element_question(tracker, text, named, current)
    return await _resolve_question(text, name, named, current)


async def _resolve_element_question(
    tracker: Tracker, text: str, named: Guide | None, current: Entry | None
) -> Resolution:
    if named is not None:
        return Resolution("answer", (named,))
    rest = texts.strip_element_cues(turns.without_entities(text, tracker, ("element",)))
    if not knowledge.has_terms(rest):
        # Nothing but the element ("那要多少钱?"): a follow-up on the service in context.
        return Resolution("answer", (current,)) if current else Resolution("ask")
    match = await knowledge.find(rest, GUIDE_ONLY)
    if match.outcome == "answer":
        return Resolution("answer", _entries(match))
    if current is not None:
        # Only a confident match moves a follow-up away from the service in context: "要多久能
        # 办好" has words ("办好") that many guides share, and it is still about this service.
        return Resolution("answer", (current,))
    if match.outcome == "clarify":
        return Resolution("clarify", _entries(match))
    return Resolution("none")


async def _resolve_question(text: str, name: str | None, named: Guide | None, current: Entry | None) -> Resolution:
    if not knowledge.has_terms(text):
        # A button ("其他要素") or words without content: the service in context.
        if named is not None:
            return Resolution("answer", (named,))
        return Resolution("answer", (current,)) if current else Resolution("ask")
    match = await knowledge.find(text)
    choices = _entries(match)
    if match.outcome == "answer" and (named is None or matter_of(choices[0]) == named.id):
        return Resolution("answer", choices)
    if named is not None:
        # The NLU recognised a service: the most specific hit about it, else its guide.
        return Resolution("answer", (_in_context(choices, named) or named,))
    if name:
        by_name = await knowledge.find(name)
        if by_name.outcome == "answer":
            return Resolution("answer", _entries(by_name))
    if match.outcome == "clarify":
        in_context = _in_context(choices, current)
        if in_context is not None:
            return Resolution("answer", (in_context,))
        return Resolution("clarify", choices)
    return Resolution("none")


# -- replies -------------------------------------------------------------------------------------


def _next_steps(guide: Guide, shown: str | None) -> list[dict[str, Any]]:
    """Buttons after an answer about a guide: other elements, the online walkthrough, a helper."""
    if shown is None:
        elements = [texts.button_element(e) for e in texts.OVERVIEW_ELEMENTS[:4]]
    else:
        others = [e for e in texts.OVERVIEW_ELEMENTS if e != shown][:2]
        elements = [texts.button_element(e) for e in others] + [texts.BUTTON_OTHER_ELEMENTS]
    online = texts.BUTTON_ONLINE if guide.online is not None else None
    return texts.buttons(*elements, online, texts.BUTTON_HUMAN)


def _answered(entry: Entry, service: Entry) -> list[EventType]:
    return [
        SlotSet(slots.SERVICE_ID, service.id),
        SlotSet(slots.LAST_ANSWER_ID, entry.id),
        SlotSet(slots.PENDING_ELEMENT, None),
        SlotSet(slots.PENDING_OFFER, None),
        SlotSet(slots.FALLBACK_STREAK, 0),
    ]


def answer_element(dispatcher: CollectingDispatcher, guide: Guide, element: str) -> list[EventType]:
    content = knowledge.knowledge_base().element(guide.id, element)
    if not content:
        label = ELEMENT_LABELS[element]
        dispatcher.utter_message(
            text=texts.ELEMENT_MISSING.format(title=guide.title, label=label), buttons=_next_steps(guide, element)
        )
        events = _answered(guide, guide)
        return [e for e in events if e.get("name") != slots.LAST_ANSWER_ID]
    dispatcher.utter_message(text=texts.guide_element(guide, element, content), buttons=_next_steps(guide, element))
    dispatcher.utter_message(json_message=payloads.answer(guide, element))
    return _answered(guide, guide)


def answer_entry(dispatcher: CollectingDispatcher, entry: Entry) -> list[EventType]:
    """An entry's own answer: a Q&A verbatim, a guide's summary, a centre's card."""
    guide = knowledge.guide_of(entry)
    if isinstance(entry, Guide):
        button_list = _next_steps(entry, None)
    elif guide is not None:
        button_list = [texts.button_entry(guide.id, "查看办事指南"), texts.BUTTON_HUMAN]
    else:
        button_list = [texts.BUTTON_HUMAN]
    dispatcher.utter_message(text=texts.entry_answer(entry), buttons=button_list)
    dispatcher.utter_message(json_message=payloads.answer(entry, None))
    return _answered(entry, guide or entry)


def respond(
    dispatcher: CollectingDispatcher, entry: Entry, element: str | None, chosen: bool = False
) -> list[EventType]:
    guide = knowledge.guide_of(entry)
    if element is None:
        return answer_entry(dispatcher, entry)
    if guide is not None:
        return answer_element(dispatcher, guide, element)
    if chosen or not isinstance(entry, QA):
        return answer_entry(dispatcher, entry)
    label = ELEMENT_LABELS[element]
    dispatcher.utter_message(text=texts.QA_HAS_NO_ELEMENTS.format(title=knowledge.title(entry), label=label))
    return [SlotSet(slots.PENDING_OFFER, None)]


def clarify(
    dispatcher: CollectingDispatcher, tracker: Tracker, choices: tuple[Entry, ...], element: str | None
) -> list[EventType]:
    titles = [knowledge.title(e) for e in choices]
    if len(choices) == 1:
        text = texts.CLARIFY_ONE.format(title=titles[0])
        button_list = [texts.button_entry(choices[0].id, "是的"), {**texts.BUTTON_NONE_OF_THEM, "title": "不是"}]
    else:
        text = "\n".join([texts.CLARIFY_MANY, *(f"{i}. {t}" for i, t in enumerate(titles, start=1))])
        button_list = [texts.button_entry(e.id, t) for e, t in zip(choices, titles, strict=True)]
        button_list.append(texts.BUTTON_NONE_OF_THEM)
    dispatcher.utter_message(text=text, buttons=button_list)
    dispatcher.utter_message(json_message=payloads.unresolved("clarify", choices))
    return [
        SlotSet(slots.PENDING_ELEMENT, element),
        SlotSet(slots.PENDING_OFFER, slots.OFFER_CLARIFY),
        # Asking is neither a success nor a failure: the streak stays as it was.
        SlotSet(slots.FALLBACK_STREAK, turns.previous_fallback_streak(tracker)),
    ]


def ask_which_service(dispatcher: CollectingDispatcher, tracker: Tracker, element: str | None) -> list[EventType]:
    guides = knowledge.example_guides(3)
    text = "\n".join([texts.ASK_WHICH_SERVICE, *(f"· {g.title}" for g in guides)])
    dispatcher.utter_message(text=text, buttons=[texts.button_entry(g.id, g.title) for g in guides])
    return [
        SlotSet(slots.PENDING_ELEMENT, element),
        SlotSet(slots.PENDING_OFFER, None),
        SlotSet(slots.FALLBACK_STREAK, turns.previous_fallback_streak(tracker)),
    ]


def not_found(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[EventType]:
    lead = texts.NOT_FOUND.format(query=texts.quote(text)) if text else texts.NOT_FOUND_BLANK
    return [
        SlotSet(slots.PENDING_ELEMENT, None),
        *cannot_help(dispatcher, tracker, lead, "not_found" if text else "no_words"),
    ]


async def answer_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, text: str, element: str | None
) -> list[EventType]:
    resolution = await resolve(tracker, text, element)
    logger.info(
        "question %r element=%s -> %s %s",
        shorten(mask(text), 60),
        element,
        resolution.outcome,
        [e.id for e in resolution.entries],
    )
    if resolution.outcome == "answer":
        return respond(dispatcher, resolution.entries[0], element)
    if resolution.outcome == "clarify":
        return clarify(dispatcher, tracker, resolution.entries, element)
    if resolution.outcome == "ask":
        return ask_which_service(dispatcher, tracker, element)
    return not_found(dispatcher, tracker, text)


class ActionAnswer(Action):
    """ask_service / ask_element / choose_entry."""

    def name(self) -> str:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        knowledge.adopt_question_vector(tracker)
        if turns.latest_intent(tracker) == "choose_entry":
            entry = knowledge.get(turns.entity_value(tracker, "entry_id"))
            if entry is None:
                return not_found(dispatcher, tracker, "")
            element = tracker.get_slot(slots.PENDING_ELEMENT)
            return respond(dispatcher, entry, element if element in ELEMENT_LABELS else None, chosen=True)
        text = turns.latest_text(tracker)
        element = requested_element(tracker, text)
        return await answer_question(dispatcher, tracker, text, element)
