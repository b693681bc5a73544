"""Step-by-step help for doing a service online: the `online.steps` of a guide, one at a time,
with next / previous / repeat / stop, and "继续上次的" to pick up where the citizen stopped (also
in a later session: the step is a slot the tracker store keeps).  "卡住了" is in handoff.py."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import Guide

from . import answers, knowledge, payloads, router, texts, turns
from . import state as st
from .router import DialogueAction
from .state import State

# The usual words of these intents: a doubtful guess without them is "没听明白" (router.doubtful).
MOVE_WORDS = ("步", "下一", "上一", "再说", "重复", "没看清", "继续", "next", "back")
RESUME_WORDS = ("继续", "接着", "上次", "刚才", "恢复", "回到")
STOP_WORDS = tuple(
    "不用 先这样 算了 不办 不弄 停 到这 暂停 结束 不想 下次 再说 回头 退出 取消 放着 别教 改天 不要 stop".split()
)


def paused_position(state: State) -> tuple[Guide | None, int | None]:
    """The walkthrough recorded in the state (active or paused), or (None, None)."""
    guide = knowledge.get(state.walkthrough_id)
    step = state.walkthrough_step
    if not isinstance(guide, Guide) or guide.online is None or step is None:
        return None, None
    return guide, max(1, min(int(step), len(guide.online.steps)))


def show_step(
    dispatcher: CollectingDispatcher, state: State, guide: Guide, step: int, lead: str = "", starting: bool = False
) -> list[EventType]:
    assert guide.online is not None
    total = len(guide.online.steps)
    lines = [lead] if lead else []
    if starting:
        lines.append(texts.WALK_ENTRY.format(entry=guide.online.entry))
    lines.append(texts.WALK_HEADER.format(title=guide.title, step=step, total=total))
    lines.append(guide.online.steps[step - 1])
    if starting:
        lines.append(texts.source_guide(guide))
    button_list = texts.buttons(
        texts.BUTTON_PREVIOUS if step > 1 else None,
        texts.BUTTON_NEXT if step < total else texts.BUTTON_DONE,
        texts.BUTTON_STUCK,
        texts.BUTTON_STOP,
    )
    dispatcher.utter_message(text="\n".join(lines), buttons=button_list)
    if starting:
        dispatcher.utter_message(json_message=payloads.answer(guide, "online"))
    dispatcher.utter_message(json_message=payloads.walkthrough(guide.id, step, total))
    return st.walking(state, guide.id, step)


def start(dispatcher: CollectingDispatcher, state: State, guide: Guide) -> list[EventType]:
    """The walkthrough of `guide` from step 1 (or where to go, when it cannot be done online)."""
    if guide.online is None:
        dispatcher.utter_message(text=texts.WALK_NO_ONLINE.format(title=guide.title))
        return answers.answer_element(dispatcher, state, guide, "location")
    return show_step(dispatcher, state, guide, 1, starting=True)


def _ask_which(dispatcher: CollectingDispatcher, state: State) -> list[EventType]:
    guides = knowledge.example_online_guides(3)
    lines = [texts.WALK_ASK_SERVICE, *(f"{i}. {g.title}" for i, g in enumerate(guides, start=1))]
    button_list = [
        {"title": g.title, "payload": "/start_walkthrough" + json.dumps({"service": g.title}, ensure_ascii=False)}
        for g in guides
    ]
    dispatcher.utter_message(text="\n".join(lines), buttons=button_list)
    # Typed picks ("2", "第一个") start the walkthrough too (actions/router.py).
    return [*st.offer(None), *st.offered([g.id for g in guides], "entry", "walkthrough")]


class ActionWalkthroughStart(DialogueAction):
    def name(self) -> str:
        return "action_walkthrough_start"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        text = turns.latest_text(tracker)
        resolution = await answers.resolve(tracker, state, text, "online")
        if resolution.outcome == "clarify":
            # The citizen asked to be taken through the steps: that starts once they choose.
            return answers.clarify(dispatcher, state, resolution.entries, "online", then="walkthrough")
        if resolution.outcome == "none":
            return answers.not_found(dispatcher, tracker, text)
        guide = knowledge.guide_of(resolution.entries[0]) if resolution.outcome == "answer" else None
        if guide is None:
            return _ask_which(dispatcher, state)
        return start(dispatcher, state, guide)


class _MoveAction(DialogueAction, ABC):
    """next / previous / repeat: move from the recorded step by `delta`.  Abstract, so the action
    server does not register it as an action of its own."""

    delta = 0

    @abstractmethod
    def name(self) -> str: ...

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        guide, step = paused_position(state)
        if guide is None or step is None or guide.online is None:
            if router.doubtful(tracker, MOVE_WORDS):
                return router.not_understood(dispatcher, tracker)
            dispatcher.utter_message(text=texts.WALK_NONE_ACTIVE)
            return st.walk_not_running()
        total = len(guide.online.steps)
        target = step + self.delta
        if target > total:
            dispatcher.utter_message(
                text=texts.WALK_DONE.format(total=total), buttons=[texts.BUTTON_GOOD, texts.BUTTON_BAD]
            )
            return st.walk_ended(guide.id)
        lead = texts.WALK_FIRST_ALREADY if target < 1 else ""
        return show_step(dispatcher, state, guide, max(1, target), lead=lead)


class ActionWalkthroughNext(_MoveAction):
    delta = 1

    def name(self) -> str:
        return "action_walkthrough_next"


class ActionWalkthroughPrevious(_MoveAction):
    delta = -1

    def name(self) -> str:
        return "action_walkthrough_previous"


class ActionWalkthroughRepeat(_MoveAction):
    delta = 0

    def name(self) -> str:
        return "action_walkthrough_repeat"


class ActionResume(DialogueAction):
    """resume ("继续上次的"): the walkthrough where it stopped, else the service in context."""

    def name(self) -> str:
        return "action_resume"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if router.doubtful(tracker, RESUME_WORDS):
            return router.not_understood(dispatcher, tracker)
        return resume(dispatcher, state)


def resume(dispatcher: CollectingDispatcher, state: State) -> list[EventType]:
    guide, step = paused_position(state)
    if guide is not None and step is not None:
        return show_step(dispatcher, state, guide, step, starting=True)
    service = knowledge.guide_of(knowledge.get(state.service_id))
    if service is not None:
        button_list = [texts.button_element(e) for e in texts.OVERVIEW_ELEMENTS[:4]]
        if service.online is not None:
            button_list.append(texts.BUTTON_ONLINE)
        dispatcher.utter_message(text=texts.RESUME_SERVICE.format(title=service.title), buttons=button_list)
        return st.offer(None)
    guides = knowledge.example_guides(3)
    dispatcher.utter_message(text=texts.NOTHING_TO_RESUME, buttons=[texts.button_entry(g.id, g.title) for g in guides])
    # Nothing to go back to: the assistant did not understand what "上回那个" is, a miss in a row
    # like any other (the next one offers a helper, recovery.py).
    return [*st.missed(state), *st.offered([g.id for g in guides], "entry")]


class ActionStop(DialogueAction):
    """stop: pause a walkthrough (the step is kept for "继续上次的"); otherwise just acknowledge.
    Leaving the centre form is done by the rules (action_deactivate_loop) before this runs."""

    takes_choice = False
    intent_words = STOP_WORDS  # a doubtful stop without them ("认定了以后一直管用吗") is read as a question

    def name(self) -> str:
        return "action_stop"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if not self.trusted(tracker):
            from .fallback import read_as_question

            return await read_as_question(dispatcher, tracker, state)
        guide, step = paused_position(state)
        if state.walkthrough_active and guide is not None:
            dispatcher.utter_message(text=texts.WALK_PAUSED.format(title=guide.title, step=step))
            return st.walk_paused()
        dispatcher.utter_message(text=texts.STOPPED_NOTHING)
        return st.dropped()
