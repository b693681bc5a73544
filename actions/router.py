"""What every typed message is checked for before its intent is acted on.

The NLU classifies one message without the conversation, so three kinds of message are read
against the state first, whatever intent they got (rules: docs/dialogue.md):

1. waiting for a helper and asking whether anyone is there ("有人吗", "人呢"): the queue state,
   not a greeting;
2. choices on offer and the message picks one ("2", "第二个", "后面那个", part of a title): that
   choice, and what the citizen asked for with it (an element, the online walkthrough).  A number
   or an ordinal is a pick whatever the intent; part of a title is not taken from a confident
   handoff, complaint, "stuck" or stop (their own words could share a title's characters);
3. right after a centre answer, a short follow-up about it ("几点上班", "那另一个呢", "那回河呢");
   right after self-service terminals were shown, one about them ("几点关门", "24小时吗", "我在崔寨");
   a question for a terminal whatever its intent ("附近哪有能打社保证明的自助机", actions/self_service.py);
4. unreadable (keyboard mash, pinyin, English, another language): "没听明白" or "只能看懂中文"
   and what the assistant can do; it counts as a miss (two in a row: a helper is offered).

Button payloads are not typed text and skip these checks.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import ELEMENT_LABELS, Center, Terminal

from . import choices, knowledge, ood, texts, turns
from .state import State

# "Is anybody there?" while waiting for a helper.
PRESENCE = re.compile(
    r"(有人吗|有没有人|人呢|在吗|在不在|还在吗|怎么还没人|咋还没人|还没人|多久(?:才)?(?:有人|能到|回复)|还要等多久|"
    r"要等多久|等多久|等了半天|人工呢|客服呢|帮办呢|工作人员呢|怎么没人|咋没人|没人理|没人回)"
)
MAX_PRESENCE_CHARS = 16


def asks_presence(text: str) -> bool:
    return len(text) <= MAX_PRESENCE_CHARS and bool(PRESENCE.search(text))


def choice_titles(state: State) -> list[str]:
    out = []
    for entry_id in state.choices:
        entry = knowledge.get(entry_id)
        out.append(knowledge.title(entry) if entry is not None else entry_id)
    return out


def picked(state: State, text: str) -> tuple[int, str | None] | None:
    """(index, element) when the message picks one of the pending choices; the element is one the
    same message asks about ("第二个要多少钱"), else None."""
    if not state.choices:
        return None
    titles = choice_titles(state)
    index = choices.pick(text, titles)
    element = texts.detect_element(text)
    if index is None and element is not None:
        index = choices.pick(texts.strip_element_cues(text), titles)
    if index is None:
        return None
    return index, element


def picked_by_position(state: State, text: str) -> tuple[int, str | None] | None:
    """A pick by number or ordinal only ("2", "第一个吧"): never ambiguous with other words."""
    if not state.choices:
        return None
    index = choices.by_position(text, len(state.choices))
    if index is None:
        index = choices.by_position(texts.strip_element_cues(text), len(state.choices))
    return None if index is None else (index, texts.detect_element(text))


# What a reply to "您想问的是…?" is when it is no question of its own ("个体户那个" after "俺要注销").
PICK_INTENTS = frozenset({"ask_service", "ask_element", "start_walkthrough", "nlu_fallback"})


async def picked_by_search(state: State, tracker: Tracker, text: str) -> tuple[int, str | None] | None:
    """A short reply to offered entries that names one by other words than its title ("个体户
    那个" among 个体工商户设立 / 注销 after "俺要注销"; "丢了补的" for 补领): searched together
    with the question it answers, the choice the search clearly puts first.  A new question about
    something else finds its own matter first and is left to its intent."""
    if (
        state.choice_kind != "entry"
        or len(state.choices) < 2
        or len(text) > choices.MAX_FRAGMENT_CHARS
        or turns.latest_intent(tracker) not in PICK_INTENTS
        or not knowledge.has_terms(text)
    ):
        return None
    index = await knowledge.ranked_choice(state.choices, f"{turns.previous_text(tracker)} {text}")
    return None if index is None else (index, texts.detect_element(text))


async def choose(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, index: int, element: str | None
) -> list[EventType]:
    """Act on choice `index` of the pending choices, including what was asked with them."""
    from . import answers, centers, self_service, walkthrough

    entry = knowledge.get(state.choices[index])
    if entry is None:
        return answers.not_found(dispatcher, tracker, "")
    if isinstance(entry, Center):
        return centers.answer_center(dispatcher, state, entry)
    if isinstance(entry, Terminal):
        return self_service.answer_terminal(dispatcher, state, entry)
    if state.then == "walkthrough":
        guide = knowledge.guide_of(entry)
        if guide is not None:
            return walkthrough.start(dispatcher, state, guide)
    wanted = element or state.pending_element
    return answers.respond(dispatcher, state, entry, wanted if wanted in ELEMENT_LABELS else None, chosen=True)


def center_follow_up(dispatcher: CollectingDispatcher, state: State, text: str) -> list[EventType] | None:
    """Right after a centre answer: its hours / phone / address, "那另一个呢", "那回河呢"."""
    from . import centers

    if not state.center_id or state.last_answer_id != state.center_id or len(text) > centers.MAX_FOLLOW_UP_CHARS:
        return None
    found = centers.follow_up_center(state, text)
    if found is not None:
        return centers.answer_center_detail(dispatcher, state, *found)
    named = knowledge.center_for_place(text) or knowledge.center_by_misspelling(text)
    if named is not None and texts.detect_element(text) in (None, "location", "phone"):
        return centers.answer_center_detail(dispatcher, state, named, centers.detail_asked(text))
    return None


# A service's location that sends citizens to the street / town centres, not only to the district's.
LOCAL_CENTRES = re.compile(r"(街道|镇|便民服务中心)")


def own_place_reply(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str
) -> list[EventType] | None:
    """ "那俺就近去哪办" / "俺们那能办吗，在哪" after the citizen said where they live: that place's
    centre (with where the service in context is done, when it is known), not a search."""
    from . import centers

    center = centers.own_place_center(tracker, text)
    if center is None:
        return None
    guide = knowledge.guide_of(knowledge.get(state.service_id))
    location = knowledge.knowledge_base().element(guide.id, "location") if guide is not None else None
    if location is None:
        return centers.answer_center(dispatcher, state, center, intro=texts.OWN_PLACE_NEAREST)
    if not LOCAL_CENTRES.search(location):
        return None  # done only at the district's offices: the service's own location answers
    return centers.answer_center(dispatcher, state, center, intro=texts.OWN_PLACE_CENTER.format(title=guide.title))


async def self_service_reply(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str
) -> list[EventType] | None:
    """A follow-up about the terminals just shown, or a question for a terminal under another intent."""
    from . import self_service

    follow_up = self_service.follow_up(dispatcher, tracker, state, text)
    if follow_up is not None:
        return follow_up
    if turns.latest_intent(tracker) != "ask_terminal" and self_service.asks_terminal(text):
        return await self_service.answer(dispatcher, tracker, state, text)
    return None


def waiting_reply(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(text=texts.STILL_WAITING_FOR_HELPER)
    return []


def unreadable_reply(dispatcher: CollectingDispatcher, tracker: Tracker, kind: ood.Kind) -> list[EventType]:
    from .recovery import cannot_help

    lead = (texts.NOT_UNDERSTOOD if kind == "mash" else texts.ONLY_CHINESE) + texts.CAPABILITIES
    return cannot_help(dispatcher, tracker, lead, "no_words" if kind == "mash" else "not_found")


async def intercept(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, takes_choice: bool = True
) -> list[EventType] | None:
    """The reply to a message that must not be read by its intent alone, else None.  Without
    `takes_choice` only a number or an ordinal picks a choice ("第一个吧" read as stop)."""
    text = turns.latest_text(tracker)
    if not text:
        return None
    # Asking for a person again while waiting is request_human's own reply (the same queue place).
    if state.handoff_active and asks_presence(text) and turns.latest_intent(tracker) != "request_human":
        return waiting_reply(dispatcher)
    from . import policies  # right after a 惠企政策 reply: its facts and "第二个怎么申请"

    policy_reply = await policies.intercept(dispatcher, tracker, state, text)
    if policy_reply is not None:
        return policy_reply
    found = picked(state, text) if takes_choice else picked_by_position(state, text)
    if found is None and takes_choice:
        found = await picked_by_search(state, tracker, text)
    if found is not None:
        return await choose(dispatcher, tracker, state, *found)
    terminal_reply = await self_service_reply(dispatcher, tracker, state, text)
    if terminal_reply is not None:
        return terminal_reply
    if not turns.entity_value(tracker, "service"):
        center_reply = center_follow_up(dispatcher, state, text)
        if center_reply is not None:
            return center_reply
        own_place = own_place_reply(dispatcher, tracker, state, text)
        if own_place is not None:
            return own_place
    kind = ood.unreadable(text)
    if kind is not None:
        return unreadable_reply(dispatcher, tracker, kind)
    return None


DOUBTFUL_CONFIDENCE = 0.5


def doubtful(tracker: Tracker, words: tuple[str, ...]) -> bool:
    """The NLU named the intent without conviction and the message has none of its usual words:
    better "没听明白" than acting on a guess (measured on mash: docs/dialogue.md)."""
    text = turns.latest_text(tracker).lower()
    if not text:
        return False
    return confidence(tracker) < DOUBTFUL_CONFIDENCE and not any(word in text for word in words)


def confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def not_understood(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    from .recovery import cannot_help

    return cannot_help(dispatcher, tracker, texts.NOT_UNDERSTOOD + texts.CAPABILITIES, "not_found")


class DialogueAction(Action, ABC):
    """An action that first lets `intercept` look at the message, then acts with the state."""

    takes_choice = True  # whether part of a title picks a pending choice before this action
    # The usual words of the intent: without them and with a doubtful NLU the action does not
    # trust its intent (`trusted`); empty: always trusted.
    intent_words: tuple[str, ...] = ()

    def trusted(self, tracker: Tracker) -> bool:
        return not self.intent_words or not doubtful(tracker, self.intent_words)

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        knowledge.adopt_question_vector(tracker)  # the NLU encoded this message already: search reuses it
        state = State.of(tracker)
        # A doubtful guess of a handoff or stop intent takes picks like any other message.
        takes_choice = self.takes_choice or not self.trusted(tracker)
        intercepted = await intercept(dispatcher, tracker, state, takes_choice)
        if intercepted is not None:
            return intercepted
        return await self.act(dispatcher, tracker, state)
