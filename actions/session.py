"""Session start, greeting and yes/no answers to the assistant's own offers.

A new session (after `session_expiration_time`, see domain.yml) keeps the service in context,
the walkthrough position and the handoff flag, so a returning citizen is greeted with what they
were doing and can say "继续上次的".  Everything that belonged to one exchange is reset."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import router, slots, texts, turns
from . import state as st
from .handoff import hand_over
from .recovery import cannot_help
from .router import DialogueAction
from .state import State
from .walkthrough import paused_position, resume

SMALL_TALK_WORDS = tuple(
    (
        "你好 您好 嗨 哈喽 早上好 下午好 晚上好 在吗 谢 感谢 多谢 辛苦 麻烦你了 再见 拜拜 回见 走了 没事了 就这样 "
        "你是谁 机器人 真人 名字 厉害 聪明 笨 好的 知道了 明白了 hello hi thanks bye"
    ).split()
)
# A bare yes / no and its fillers.  With nothing on offer, an "affirm" that says more than this
# ("嗯嗯那个东西呢", "就是那个啥你懂的") is an unfinished question the NLU read by its filler words:
# a miss ("没听明白", two in a row offer a helper), not "好的。还有什么可以帮您？".
PLAIN_YES_NO = re.compile(
    r"^(?:好|好的|好滴|好嘞|好吧|行|行的|可以|中|成|嗯|恩|哦|噢|喔|对|对的|对对|是|是的|没错|没问题|要|需要|"
    r"不|不是|不用|不要|不需要|没有|算了|知道了|明白了|收到|谢谢|ok|okay|yes|no|"
    r"[啊呀吧呢哈嘛啦了呗哇]|[\s\W_])+$",
    re.IGNORECASE,
)
RESPONSES = {"goodbye": "utter_goodbye", "thanks": "utter_thanks", "chitchat": "utter_chitchat"}


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        # `walkthrough_active` is not carried over: in a new session the walkthrough is paused.
        for name in slots.CARRIED_OVER:
            value = tracker.get_slot(name)
            if value is not None:
                events.append(SlotSet(name, value))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(DialogueAction):
    def name(self) -> str:
        return "action_greet"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if router.doubtful(tracker, SMALL_TALK_WORDS):
            return router.not_understood(dispatcher, tracker)
        guide, step = paused_position(state)
        if guide is not None and step is not None and guide.online is not None:
            total = len(guide.online.steps)
            dispatcher.utter_message(
                text=texts.WELCOME_BACK.format(title=guide.title, step=step, total=total),
                buttons=[texts.BUTTON_RESUME, texts.BUTTON_NO],
            )
            return [*st.offer(slots.OFFER_RESUME), *st.helped()]
        dispatcher.utter_message(text=texts.GREETING)
        return [*st.offer(None), *st.helped()]


class ActionSmallTalk(DialogueAction):
    """goodbye / thanks / chitchat: their responses, once the message is known to be small talk
    (not a pick of an offered choice, not mash, not a doubtful guess of the NLU)."""

    def name(self) -> str:
        return "action_small_talk"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if router.doubtful(tracker, SMALL_TALK_WORDS):
            return router.not_understood(dispatcher, tracker)
        intent = turns.latest_intent(tracker) or "chitchat"
        dispatcher.utter_message(response=RESPONSES.get(intent, "utter_chitchat"))
        return [*st.offer(None), *st.helped()]


class ActionReplyToOffer(DialogueAction):
    """affirm / deny: answer whatever the assistant offered last (the state's pending offer); a
    "是的" to "您想问的是《…》吗?" is the choice itself."""

    def name(self) -> str:
        return "action_reply_to_offer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        from . import answers

        offer = state.pending_offer
        yes = turns.latest_intent(tracker) == "affirm"
        text = turns.latest_text(tracker)
        element = texts.detect_element(text) if text else None
        if element is not None and not yes:
            # "贵不贵" read as a no: it is an element question, about the clarification's first
            # choice or the service in context (actions/answers.py).
            return await answers.answer_question(dispatcher, tracker, state, text, element)
        if offer == slots.OFFER_HANDOFF:
            if yes:
                return hand_over(dispatcher, tracker, "fallback")
            dispatcher.utter_message(text=texts.OFFER_DECLINED)
            return [*st.offer(None), *st.helped()]
        if offer == slots.OFFER_RESUME:
            if yes:
                return resume(dispatcher, state)
            dispatcher.utter_message(text=texts.DENY_NOTHING_PENDING)
            return st.offer(None)
        if offer == slots.OFFER_CLARIFY and yes and len(state.choices) == 1:
            return await router.choose(dispatcher, tracker, state, 0, None)
        if offer == slots.OFFER_CLARIFY and not yes:
            # "都不是": the assistant did not find what the citizen meant; counts as a failed turn.
            return cannot_help(dispatcher, tracker, texts.CLARIFY_NONE_OF_THEM, "none_of_them")
        if text and not PLAIN_YES_NO.match(text.strip()):
            return router.not_understood(dispatcher, tracker)
        dispatcher.utter_message(text=texts.AFFIRM_NOTHING_PENDING if yes else texts.DENY_NOTHING_PENDING)
        return st.offer(None)
