"""When the NLU is unsure (nlu_fallback) or the message is out of scope.

An unsure NLU is not the end: a service or element it did find is answered like any question
(with the service in context), and otherwise the words may still name an entry the knowledge base
knows well, so the message is searched with the same thresholds as any question, and answered
(or clarified) when the search is sure.  Out-of-scope messages and messages without words (empty, punctuation,
emoji) are not searched — unless the NLU found a service in them ("新买的电瓶车上牌子需要带啥"
read as out of scope still names 电动自行车登记上牌).  Otherwise: rephrase first, a helper offered
the second time in a row (recovery.py).

The same reading serves messages whose intent the actions do not trust: a doubtful guess of
complain / stuck / stop without their usual words ("迁出去" read as stuck) is searched like this,
not handed over at once (handoff.py, walkthrough.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from . import answers, knowledge, slots, texts, turns
from .recovery import cannot_help
from .router import DialogueAction
from .state import State

OUT_OF_SCOPE = "抱歉，这个问题我回答不了。我是济阳区政务服务助手，只能帮您查办事指南。"


class ActionFallback(DialogueAction):
    def name(self) -> str:
        return "action_fallback"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return await read_as_question(dispatcher, tracker, state)


async def read_as_question(dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
    """A message the NLU could not place with confidence: answered when its words name something
    the knowledge base knows, else a miss."""
    text = turns.latest_text(tracker)
    if turns.latest_intent(tracker) == "out_of_scope" and not turns.entity_value(tracker, "service"):
        return cannot_help(dispatcher, tracker, OUT_OF_SCOPE, "out_of_scope")
    element = answers.requested_element(tracker, text, state)
    in_context = bool(state.service_id) or state.pending_offer == slots.OFFER_CLARIFY
    if turns.entity_value(tracker, "service") or (element and in_context) or answers.back_reference(state, text):
        # The NLU found a service, or an element of the service in context ("怎么收费"), or
        # the citizen went back to an earlier one: answer it like any question about a service.
        return await answers.answer_question(dispatcher, tracker, state, text, element)
    if not knowledge.has_terms(text):
        return cannot_help(dispatcher, tracker, texts.NOT_FOUND_BLANK, "no_words")
    match = await answers.find_in(tracker, text)
    if match.outcome == "answer":
        entry = knowledge.get(match.choices[0].id)
        if entry is not None:
            return answers.respond(dispatcher, state, entry, None)
    current = knowledge.get(state.service_id)
    choices = tuple(e for e in (knowledge.get(h.id) for h in match.choices) if e is not None)
    # About the service in context: one of the choices, or the follow-up searched with its title.
    about_current = answers.in_context(choices, current) or await answers.within_context(text, current)
    if about_current is not None:
        return answers.respond(dispatcher, state, about_current, None)
    if match.outcome == "clarify" and choices:
        return answers.clarify(dispatcher, state, choices, None)
    lead = texts.NOT_FOUND.format(query=texts.quote(text))
    return cannot_help(dispatcher, tracker, lead)
