"""Handing a conversation to an online helper (在线帮办): the `handoff` payload of
docs/payloads.md plus the slot `handoff_active`, which the bot service resets on hand-back.

When the assistant hands over:
- request_human: the citizen asks for a person (at once, no questions asked);
- fallback: the assistant failed twice in a row, offered a helper and the citizen said yes
  (offering first, because a citizen who only mistyped should not land in a queue);
- stuck: "卡住了", at once, with the walkthrough step if one is under way;
- complaint: at once, with the complaint's words in the summary.
Asking again while a handoff is active sends the payload again (the bot service keeps one queue
entry per conversation) with a "please wait" text.
"""

from __future__ import annotations

from abc import ABC

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import Entry, Guide

from . import knowledge, payloads, texts, turns
from . import state as st
from .payloads import HandoffReason
from .privacy import mask, shorten
from .router import DialogueAction
from .state import State

REASON_LABELS: dict[str, str] = {
    "request_human": "用户要求人工",
    "fallback": "连续两次没能回答",
    "stuck": "网上办理卡住了",
    "complaint": "投诉",
}
SUMMARY_QUOTE_CHARS = 40


def walkthrough_position(state: State) -> tuple[Guide | None, int | None]:
    """The guide and step of an active walkthrough, or (None, None)."""
    if not state.walkthrough_active:
        return None, None
    guide = knowledge.get(state.walkthrough_id)
    step = state.walkthrough_step
    if not isinstance(guide, Guide) or step is None:
        return None, None
    return guide, int(step)


def summary(reason: HandoffReason, service: Entry | None, step: int | None, question: str) -> str:
    """One line for the helper's queue; personal numbers masked."""
    parts = [REASON_LABELS[reason]]
    if service is not None:
        parts.append(f"事项《{knowledge.title(service)}》")
    if step is not None:
        parts.append(f"第{step}步")
    if question:
        parts.append(f"用户说：“{shorten(mask(question), SUMMARY_QUOTE_CHARS)}”")
    return "；".join(parts)


def hand_over(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandoffReason, lead: str = ""
) -> list[EventType]:
    """Tell the citizen, emit the payload and mark the conversation as handed over."""
    state = State.of(tracker)
    guide, step = walkthrough_position(state)
    service = guide or knowledge.get(state.service_id)
    # A complaint or a "stuck" message describes the problem itself; otherwise the last question does.
    own_words = reason in ("complaint", "stuck")
    question = turns.latest_text(tracker) if own_words else turns.last_question(tracker)
    already = state.handoff_active
    if reason == "stuck" and guide is not None and step is not None:
        text = lead + texts.WALK_STUCK.format(title=guide.title, step=step)
    else:
        text = lead + (texts.HANDOFF_AGAIN if already else texts.HANDOFF_DONE)
    dispatcher.utter_message(text=text)
    dispatcher.utter_message(
        json_message=payloads.handoff(reason, service, step, summary(reason, service, step, question))
    )
    return st.handed_over()


# The usual words of a complaint and of being stuck.  A doubtful guess of either without them
# ("迁出去" read as stuck, a phone-assistant command read as a complaint) is not handed over at
# once: it is read like any unsure message (fallback.read_as_question), and a pick of an offered
# choice is taken from it.
COMPLAINT_WORDS = (
    "投诉 举报 反映 不满 态度 太差 服务差 效率 太慢 太低 刁难 推诿 扯皮 推来推去 来回跑 跑了 "
    "没人管 没人接 打不通 乱收费 吃拿卡要 骂人 气人 太烂 不负责 爱答不理 排队 排了 恶劣 差评"
).split()
STUCK_WORDS = (
    "卡 不会 不懂 弄不了 搞不定 点不 进不去 打不开 登不上 登录不 收不到 上传 提交 失败 报错 出错 错误 "
    "没反应 没用 找不到 不知道 不行 转圈 白屏 闪退 灰 异常 繁忙 无法 过不去 页面 按钮 入口 验证码 刷脸 人脸"
).split()


class _HandoffAction(DialogueAction, ABC):
    """Typed text is checked first (actions/router.py): "人呢" while waiting gets the queue state,
    not a new complaint.  Only a number or an ordinal picks a pending choice from these messages,
    unless their intent is a doubtful guess (`intent_words`)."""

    takes_choice = False

    async def run_trusted(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        raise NotImplementedError

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        if not self.trusted(tracker):
            from .fallback import read_as_question

            return await read_as_question(dispatcher, tracker, state)
        return await self.run_trusted(dispatcher, tracker, state)


class ActionHandoff(_HandoffAction):
    """request_human: hand over at once."""

    def name(self) -> str:
        return "action_handoff"

    async def run_trusted(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "request_human")


class ActionComplaint(_HandoffAction):
    """complain: apologise and hand over, quoting the complaint for the helper."""

    intent_words = tuple(COMPLAINT_WORDS)

    def name(self) -> str:
        return "action_complaint"

    async def run_trusted(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "complaint", lead=texts.COMPLAINT)


class ActionStuck(_HandoffAction):
    """stuck ("卡住了"): hand over with the walkthrough step, if any; the walkthrough stays where
    it is so the citizen can continue after the helper's hand-back."""

    intent_words = tuple(STUCK_WORDS)

    def name(self) -> str:
        return "action_stuck"

    async def run_trusted(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        return hand_over(dispatcher, tracker, "stuck", lead=texts.STUCK)
