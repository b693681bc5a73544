"""Answering questions about services from the knowledge base (ask_service, ask_element,
choose_entry), resolved against the conversation state (actions/state.py, docs/dialogue.md).

Which entry a question is about:
- a service the message names (the NLU's `service` entity, or the search when it is sure) wins;
- "刚才那个" / "前面那个" goes back to the service discussed before the current one;
- otherwise the current service: element questions ("要带什么材料", "那要多少钱") are answered
  from its elements; after a clarification the citizen let pass, a bare element question
  ("贵不贵") is about the clarification's first choice;
- an elliptical follow-up that names another matter ("那补办呢") keeps the element asked last;
- other questions search guides and Q&As with the asking part of the message
  (knowledge_base.question.question_part, place names cut out): a Q&A is answered verbatim, a
  guide with its plain summary and the elements to ask next;
- close hits or weak coverage lead to "您想问的是…?" with at most 3 choices, unless one of them
  is about the service in context; what the citizen asked for with the question (an element,
  the online walkthrough) is kept for after the choice; below the confidence floor nothing is
  answered (thresholds and their measurements: actions/config.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import ELEMENT_LABELS, QA, Entry, Guide
from knowledge_base.question import asking_clause, question_part

from . import bundle_hints, crossregion, knowledge, payloads, slots, texts, turns
from . import state as st
from .matching import Match, matter_of
from .privacy import mask, shorten
from .recovery import cannot_help
from .router import DialogueAction
from .state import State, Then

logger = logging.getLogger(__name__)

GUIDE_ONLY = ("guide", "bundle")  # element questions: a 一件事 has elements too
# "刚才那个", "前面那个", "上一个": back to the service discussed before the current one.
BACK_REFERENCE = re.compile(r"(刚才|刚刚|前面|之前|上一个|上个|先前|开始)(那个|那件|的那个|说的|问的|那项|那事)")
# An elliptical follow-up ("那补办呢?", "要是新办呢"): it keeps the element asked last.
ELLIPTICAL = re.compile(r"^(那|那么|那要是|要是|如果是|换成)|呢[？?]*$")
MAX_ELLIPTICAL_CHARS = 16
# Elements a "can I do it elsewhere?" question outranks: it is about where and whether, not what
# to bring or what it costs.
ELSEWHERE_BEATS = ("conditions", "location", "online", "audience", "cross_region")
# The words that led to a place cut out of a message ("俺住 ，…", "家在 那边").
PLACE_LEAD = re.compile(r"(?:住在|家住|家在|住)\s+")


@dataclass(frozen=True)
class Resolution:
    outcome: Literal["answer", "clarify", "none", "ask"]
    entries: tuple[Entry, ...] = ()
    # The entry was found with the element words kept (a Q&A about that very point): its own
    # answer is the answer, not an element of a guide.
    verbatim: bool = False


def _entries(match: Match) -> tuple[Entry, ...]:
    found = (knowledge.get(hit.id) for hit in match.choices)
    return tuple(e for e in found if e is not None)


def in_context(entries: tuple[Entry, ...], current: Entry | None) -> Entry | None:
    """The choice about the same matter as the service in context, if any."""
    if current is None:
        return None
    wanted = matter_of(current)
    return next((e for e in entries if matter_of(e) == wanted), None)


async def find_in(tracker: Tracker, text: str, kinds: tuple[str, ...] | None = None, strip_cues: bool = False) -> Match:
    """Search the asking part of the message; when that alone finds nothing, the whole message
    (the story before the question may name the matter: "孩子今年该上小学了……要准备啥材料")."""

    def prepared(words: str) -> str:
        return texts.strip_element_cues(words) if strip_cues else words

    without_places = turns.without_entities(text, tracker, ("place", "element") if strip_cues else ("place",))
    if without_places != text:
        # "俺住崔寨" without the place is "俺住": where the citizen lives is not the question.
        without_places = PLACE_LEAD.sub(" ", without_places)
    part = question_part(without_places)
    args = (kinds,) if kinds else ()
    match = await knowledge.find(prepared(part), *args)
    searched = part
    if match.outcome == "none" and part != without_places:
        match = await knowledge.find(prepared(without_places), *args)
        searched = without_places
        if match.outcome == "none":
            # Offered only because two weak readings agree: not settled by a third.
            return await knowledge.find_agreeing(prepared(part), prepared(without_places), *args)
    if match.outcome == "clarify":
        # Close choices: the asking clause alone, then the whole story, may settle them.
        for reading in dict.fromkeys((asking_clause(part), without_places)):
            if reading != searched and knowledge.has_terms(prepared(reading)):
                settled = await knowledge.settle(match, prepared(reading), *args)
                if settled is not None:
                    return settled
    return match


def requested_element(tracker: Tracker, text: str, state: State | None = None) -> str | None:
    """The element asked about: the NLU's entity, else a cue word when the intent is ask_element
    or when the message is nothing but an element question ("多少钱?"), else — for an elliptical
    follow-up that names a matter ("那补办呢") — the element asked last."""
    value = turns.entity_value(tracker, "element")
    if value in (None, *ELSEWHERE_BEATS) and text and crossregion.asked(text):
        # "俺在外地能不能办身份证": whether it can be done there, not its conditions or its hall.
        return "cross_region"
    if value == "audience" and texts.detect_element(text) != "audience":
        # "哪些人可以办" / "谁能办" ask who qualifies: the conditions (a guide's 服务对象 is
        # "自然人、法人"); only "服务对象" / "适用对象" ask for the audience itself.
        return "conditions"
    if value in ELEMENT_LABELS:
        return value
    detected = texts.detect_element(text)
    if detected and (
        turns.latest_intent(tracker) == "ask_element"
        or not knowledge.has_terms(texts.strip_element_cues(text))
        or texts.ends_with_element_cue(text)
    ):
        return detected
    if (
        state is not None
        and state.element
        and state.element != "online"
        and detected is None
        and len(text) <= MAX_ELLIPTICAL_CHARS
        and ELLIPTICAL.search(text)
        and knowledge.has_terms(text)
    ):
        return state.element
    return None


def back_reference(state: State, text: str) -> Entry | None:
    """The earlier service a "刚才那个" means, if the message says so and there is one."""
    if not BACK_REFERENCE.search(text):
        return None
    earlier = state.earlier_service()
    return knowledge.get(earlier) if earlier else None


async def resolve(tracker: Tracker, state: State, text: str, element: str | None) -> Resolution:
    current = knowledge.get(state.service_id)
    name = turns.entity_value(tracker, "service")
    named: Entry | None = knowledge.guide_by_name(name) if name else None
    if named is None:
        named = back_reference(state, text)
    if element == "cross_region":
        # "人在广州回不来，能在广州换不": where the citizen is, is not the matter searched for.
        text = crossregion.without_places(text)
    if element:
        return await _resolve_element_question(tracker, state, text, named, current)
    return await _resolve_question(tracker, text, name, named, current)


# A follow-up names its matter in a word or two ("换证", "贷款", "出结果"); a longer rest names a
# new matter of its own ("残疾人那两项补贴谁能领") and is not pulled back to the services discussed.
MAX_FOLLOW_UP_WORDS_CHARS = 6


def _is_follow_up_words(rest: str) -> bool:
    return len("".join(rest.split())) <= MAX_FOLLOW_UP_WORDS_CHARS


def _named_by_title(tracker: Tracker, named: Entry) -> bool:
    """Whether the message names the service by its own title (with or without the bracketed
    part), not by a shorter word or alias the NLU mapped to it ("换证", "开公司")."""
    said = turns.entity_text(tracker, "service")
    if not said:
        return True  # a button's entity: chosen, not guessed
    title = knowledge.title(named)
    return "".join(said.split()) in (title, knowledge.short_title(title))


def _outranked(match: Match, named: Entry) -> Entry | None:
    """The search's confident answer when the service the NLU named from a partial word ranks
    clearly below it ("开公司的一件事都能一块办啥": 企业开办一件事, not 企业设立登记)."""
    if match.outcome != "answer":
        return None
    wanted = matter_of(named)
    best = knowledge.get(match.choices[0].id)
    if best is None or matter_of(best) == wanted:
        return None
    ranked = {knowledge.matter(hit.id) for hit in match.ranked}
    return best if wanted in ranked else None


def _discussed_near(match: Match, state: State) -> Entry | None:
    """The most recent service discussed (the current one first) that scores about as well as
    the best hit (within the tie ratio): a short follow-up's words are about it."""
    near = {knowledge.matter(hit.id) for hit in match.near}
    for service_id in (state.service_id, *state.recent_services):
        if service_id and knowledge.matter(service_id) in near:
            return knowledge.get(service_id)
    return None


def _ignored_clarification(state: State) -> Entry | None:
    """The first choice of a clarification the citizen let pass by asking on."""
    if state.pending_offer != slots.OFFER_CLARIFY or state.choice_kind != "entry" or not state.choices:
        return None
    return knowledge.get(state.choices[0])


async def _resolve_element_question(
    tracker: Tracker, state: State, text: str, named: Entry | None, current: Entry | None
) -> Resolution:
    rest = texts.strip_element_cues(turns.without_entities(text, tracker, ("element", "place")))
    if named is not None:
        if BACK_REFERENCE.search(text):
            return Resolution("answer", (named,))
        follow_up = _is_follow_up_words(rest) and bool(state.service_id)
        if not follow_up and _named_by_title(tracker, named):
            return Resolution("answer", (named,))
        match = await find_in(tracker, text, GUIDE_ONLY, strip_cues=True)
        if follow_up:
            # A generic word the NLU took for a service ("换证", an alias of 身份证换领) right
            # after talking about a service it also fits (残疾人证换领): the one discussed wins.
            discussed = _discussed_near(match, state)
            if discussed is not None:
                return Resolution("answer", (discussed,))
        outranked = None if _named_by_title(tracker, named) else _outranked(match, named)
        return Resolution("answer", (outranked or named,))
    if not knowledge.has_terms(rest) or BACK_REFERENCE.search(text):
        # Nothing but the element ("那要多少钱?"): a follow-up on the clarification let pass, else
        # on the service in context.
        context = _ignored_clarification(state) or current
        if context is not None and knowledge.guide_of(context) is None:
            about_the_point = await _qa_about_the_point(tracker, text, context)
            if about_the_point is not None:
                return about_the_point
        return Resolution("answer", (context,)) if context else Resolution("ask")
    match = await _guides_corroborated(tracker, text, await find_in(tracker, text, GUIDE_ONLY, strip_cues=True))
    context = current or _ignored_clarification(state)
    discussed = _discussed_near(match, state) if _is_follow_up_words(rest) else None
    if discussed is not None:
        return Resolution("answer", (discussed,))
    if match.outcome == "answer":
        return Resolution("answer", _entries(match))
    without_guide = await _qa_about_the_point(tracker, text, context)
    if without_guide is not None:
        return without_guide
    if context is not None:
        # Only a confident match moves a follow-up away from the service in context: "要多久能
        # 办好" has words ("办好") that many guides share, and it is still about this service.
        return Resolution("answer", (context,))
    if match.outcome == "clarify":
        return Resolution("clarify", _entries(match))
    return Resolution("none")


async def _guides_corroborated(tracker: Tracker, text: str, match: Match) -> Match:
    """Guides alone are a thin field: "想去办结婚登记" scores 结婚登记 and 补领婚姻登记证 close,
    which is a tie among guides although the knowledge base as a whole (its Q&As about each
    matter) clearly prefers one.  A tie among guides is settled by the search of every kind when
    that search answers with one of the tied guides' matters."""
    if match.outcome != "clarify":
        return match
    tied = {hit.id: hit for hit in match.choices}
    whole = await find_in(tracker, text, strip_cues=True)
    if whole.outcome != "answer" or whole.best is None:
        return match
    chosen = tied.get(knowledge.matter(whole.best.id))
    if chosen is None:
        return match
    return Match("answer", (chosen,), match.near, match.ranked)


async def _qa_about_the_point(tracker: Tracker, text: str, context: Entry | None) -> Resolution | None:
    """An element question no guide answers ("营业执照需要什么材料" in a knowledge base imported
    from a Q&A export, without structured guides): searched with its element words kept, since
    there the Q&A titled with that very point is the answer and its matter's other Q&As are not.
    A follow-up on a Q&A in context ("要多少钱") is searched together with that Q&A's title."""
    if context is not None and knowledge.guide_of(context) is not None:
        return None  # a guide in context answers its elements
    match = await find_in(tracker, text)
    entries = _entries(match)
    if match.outcome == "answer" and knowledge.guide_of(entries[0]) is None:
        return Resolution("answer", entries, verbatim=True)
    if context is not None:
        # The Q&A's title without its own element words ("居住证需要什么材料" → "居住证").
        matter = texts.strip_element_cues(knowledge.title(context))
        follow_up = await knowledge.find(f"{matter} {text}")
        if follow_up.outcome == "answer":
            return Resolution("answer", _entries(follow_up), verbatim=True)
        return None
    if match.outcome == "clarify" and all(knowledge.guide_of(e) is None for e in entries):
        return Resolution("clarify", entries)
    return None


async def _resolve_question(
    tracker: Tracker, text: str, name: str | None, named: Entry | None, current: Entry | None
) -> Resolution:
    if not knowledge.has_terms(turns.without_entities(text, tracker, ("place",))):
        # A button ("其他要素") or words without content: the service in context.
        if named is not None:
            return Resolution("answer", (named,))
        return Resolution("answer", (current,)) if current else Resolution("ask")
    match = await find_in(tracker, text)
    choices = _entries(match)
    if match.outcome == "answer" and (named is None or matter_of(choices[0]) == matter_of(named)):
        return Resolution("answer", choices)
    if named is not None and not BACK_REFERENCE.search(text) and not _named_by_title(tracker, named):
        outranked = _outranked(match, named)
        if outranked is not None:
            return Resolution("answer", (outranked,))
    if named is not None:
        # The NLU recognised a service (or the citizen went back to one): the most specific hit
        # about it, else its guide.
        return Resolution("answer", (in_context(choices, named) or named,))
    if name:
        by_name = await knowledge.find(name)
        if by_name.outcome == "answer":
            return Resolution("answer", _entries(by_name))
    if match.outcome == "clarify":
        about_current = in_context(choices, current)
        if about_current is not None:
            return Resolution("answer", (about_current,))
    within = await within_context(text, current)
    if within is not None:
        return Resolution("answer", (within,))
    if match.outcome == "clarify":
        return Resolution("clarify", choices)
    return Resolution("none")


async def within_context(text: str, current: Entry | None) -> Entry | None:
    """A short follow-up the search alone cannot place ("户口本也得带？" after 结婚登记): searched
    again together with the title of the service in context, it is answered when that finds
    another entry about the same service (one of its Q&As) with confidence."""
    if current is None or len(text) > MAX_ELLIPTICAL_CHARS:
        return None
    match = await knowledge.find(f"{knowledge.title(current)} {text}")
    if match.outcome != "answer":
        return None
    entry = knowledge.get(match.choices[0].id)
    # Only a more specific entry about the same service: the service's own entry found again
    # would mean the message's words added nothing the search could use.
    if entry is None or entry.id == current.id or matter_of(entry) != matter_of(current):
        return None
    return entry


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


def answer_element(
    dispatcher: CollectingDispatcher, state: State, guide: Guide, element: str, asked: str = ""
) -> list[EventType]:
    content = knowledge.knowledge_base().element(guide.id, element)
    if not content:
        label = ELEMENT_LABELS[element]
        dispatcher.utter_message(
            text=texts.ELEMENT_MISSING.format(title=guide.title, label=label), buttons=_next_steps(guide, element)
        )
        events = st.answered(state, guide.id, guide.id, element)
        return [e for e in events if e.get("name") != slots.LAST_ANSWER_ID]
    text = texts.guide_element(guide, element, content)
    place_lead = crossregion.lead(guide, asked) if element == "cross_region" and asked else None
    if place_lead:
        text = f"{place_lead}\n{text}"
    dispatcher.utter_message(text=text, buttons=_next_steps(guide, element))
    dispatcher.utter_message(json_message=payloads.answer(guide, element))
    return st.answered(state, guide.id, guide.id, element)


def answer_entry(dispatcher: CollectingDispatcher, state: State, entry: Entry) -> list[EventType]:
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
    return st.answered(state, entry.id, (guide or entry).id, None)


def respond(
    dispatcher: CollectingDispatcher,
    state: State,
    entry: Entry,
    element: str | None,
    chosen: bool = False,
    asked: str = "",
) -> list[EventType]:
    guide = knowledge.guide_of(entry)
    if element is None:
        return answer_entry(dispatcher, state, entry)
    if guide is not None:
        return answer_element(dispatcher, state, guide, element, asked)
    if chosen or not isinstance(entry, QA):
        return answer_entry(dispatcher, state, entry)
    label = ELEMENT_LABELS[element]
    dispatcher.utter_message(text=texts.QA_HAS_NO_ELEMENTS.format(title=knowledge.title(entry), label=label))
    return st.offer(None)


def clarify(
    dispatcher: CollectingDispatcher,
    state: State,
    choices: tuple[Entry, ...],
    element: str | None,
    then: Then | None = None,
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
    return st.asking(state, [e.id for e in choices], "entry", element, then, offer=slots.OFFER_CLARIFY)


def ask_which_service(
    dispatcher: CollectingDispatcher, state: State, element: str | None, then: Then | None = None
) -> list[EventType]:
    guides = knowledge.example_guides(3)
    text = "\n".join([texts.ASK_WHICH_SERVICE, *(f"{i}. {g.title}" for i, g in enumerate(guides, start=1))])
    dispatcher.utter_message(text=text, buttons=[texts.button_entry(g.id, g.title) for g in guides])
    return st.asking(state, [g.id for g in guides], "entry", element, then)


def _element_at_the_end(text: str, entry: Entry) -> tuple[Entry, str | None]:
    """A message that names a matter and ends by asking for one of its elements ("身份证过期了要换
    新的，得花钱不"), answered by a Q&A of that matter which does not ask about the element (it is
    about when to renew): the guide's element is the answer."""
    guide = knowledge.guide_of(entry)
    element = texts.ending_element(text)
    if not isinstance(entry, QA) or guide is None or element is None:
        return entry, None
    if texts.mentions_element([entry.question, *entry.similar], element):
        return entry, None
    return guide, element


def same_answer(choices: tuple[Entry, ...], element: str | None) -> Guide | None:
    """The first choice when every choice is a guide giving the same text for the element asked:
    "不动产登记中心电话多少" finds several 不动产 guides with one phone number, and asking which
    one was meant would not change the answer."""
    if element not in ELEMENT_LABELS or element == "online" or len(choices) < 2:
        return None
    guides = [knowledge.guide_of(e) for e in choices]
    if any(g is None for g in guides):
        return None
    kb = knowledge.knowledge_base()
    contents = {kb.element(g.id, element) for g in guides if g is not None}
    return guides[0] if len(contents) == 1 and all(contents) else None


def not_found(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[EventType]:
    lead = texts.NOT_FOUND.format(query=texts.quote(text)) if text else texts.NOT_FOUND_BLANK
    return cannot_help(dispatcher, tracker, lead, "not_found" if text else "no_words")


def offered_index(state: State, entry: Entry) -> int | None:
    """The index of the pending clarification's choice about the same matter as `entry`."""
    if state.pending_offer != slots.OFFER_CLARIFY or state.choice_kind != "entry":
        return None
    wanted = matter_of(entry)
    for index, choice_id in enumerate(state.choices):
        choice = knowledge.get(choice_id)
        if choice is not None and matter_of(choice) == wanted:
            return index
    return None


async def answer_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str, element: str | None
) -> list[EventType]:
    resolution = await resolve(tracker, state, text, element)
    logger.info(
        "question %r element=%s -> %s %s",
        shorten(mask(text), 60),
        element,
        resolution.outcome,
        [e.id for e in resolution.entries],
    )
    if resolution.outcome == "answer":
        index = offered_index(state, resolution.entries[0])
        if index is not None:
            # The question names one of the choices on offer ("租房提取" after 租房 / 购房): it is
            # that choice, with what was asked with the clarification (the walkthrough, an element).
            if state.then == "walkthrough":
                from .router import choose

                return await choose(dispatcher, tracker, state, index, element)
            pending = state.pending_element if state.pending_element in ELEMENT_LABELS else None
            element = element or pending
        entry = resolution.entries[0]
        if resolution.verbatim:
            element = None
        elif element is None:
            entry, element = _element_at_the_end(text, entry)
        events = respond(dispatcher, state, entry, element, asked=text)
        bundle_hints.point_out(dispatcher, state, text, entry)  # two matters of one 一件事
        return events
    if resolution.outcome == "clarify":
        same = same_answer(resolution.entries, element)
        if same is not None:
            return respond(dispatcher, state, same, element, asked=text)
        return clarify(dispatcher, state, resolution.entries, element)
    if resolution.outcome == "ask":
        return ask_which_service(dispatcher, state, element)
    return not_found(dispatcher, tracker, text)


class ActionAnswer(DialogueAction):
    """ask_service / ask_element / choose_entry."""

    def name(self) -> str:
        return "action_answer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if turns.latest_intent(tracker) == "choose_entry":
            entry = knowledge.get(turns.entity_value(tracker, "entry_id"))
            if entry is None:
                return not_found(dispatcher, tracker, "")
            if state.then == "walkthrough" and entry.id in state.choices:
                from .walkthrough import start

                guide = knowledge.guide_of(entry)
                if guide is not None:
                    return start(dispatcher, state, guide)
            element = state.pending_element if entry.id in state.choices else None
            return respond(dispatcher, state, entry, element if element in ELEMENT_LABELS else None, chosen=True)
        text = turns.latest_text(tracker)
        element = requested_element(tracker, text, state)
        return await answer_question(dispatcher, tracker, state, text, element)
