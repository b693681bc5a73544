"""The 惠企政策 conversation: a business describes itself, in one message or over a few turns,
and hears which policies may apply, ranked, with what it meets, what it must still check and how
to apply (matching: knowledge_base/policies.py; reading the profile: knowledge_base/business_profile.py).

    "有啥惠企政策"                  → asks the one or two facts that tell most candidates apart
    "济阳的，小型企业"               → (the answer to that question) the ranked list
    "俺们是济阳的小型食品厂，成立三年了，纳税信用A级，有啥补贴"   → the ranked list at once
    "第二个怎么申请" / "那个啥时候截止" / "第一个要啥材料"          → one policy's detail

Its state is four slots of its own (the profile said so far, the policies listed, the one
discussed last, the facts just asked for), read and written only here.  The profile lives in the
conversation's slots and nowhere else: no business profile is stored beyond the conversation.
A new session starts without it (actions/slots.CARRIED_OVER does not name these slots).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.business_profile import Profile, read_profile
from knowledge_base.models import Policy
from knowledge_base.policies import Match, Ranking, match, missing_facts, named_in, rank

from . import knowledge, payloads, slots, texts, turns
from . import policy_texts as say
from . import state as st
from .router import DialogueAction
from .state import State

NAME = "action_policies"
MAX_LISTED = 5
ENOUGH_FACTS = 2  # with fewer known facts the assistant asks before listing (once per question)

# Slots (declared in domain.yml).
PROFILE = "business_profile"
RESULTS = "policy_results"  # policy ids listed last, in order
CURRENT = "policy_current"  # the policy discussed last ("那个")
ASKED = "policy_asked"  # facts just asked for ("place,size"): the next message may answer them


# Which element of a policy a message asks about.
def _any(words: str) -> re.Pattern[str]:
    return re.compile("|".join(words.split()))


ELEMENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("deadline", _any("截止 啥时候 什么时候 几时 哪天 几号 期限 来得及 过期 有效期 到什么时间")),
    ("materials", _any("材料 带什么 带啥 准备什么 准备啥 要交什么 要交啥 需要啥")),
    (
        "apply",
        _any(
            "怎么申请 咋申请 如何申请 怎样申请 怎么报 咋报 申报 去哪申请 在哪申请 哪里申请 怎么办理 咋办理"
            " 怎么领 咋领 怎么享受 咋享受 怎么拿 申请流程 怎么弄 咋弄 申请"
        ),
    ),
    (
        "benefit",
        _any(
            "补多少 给多少 能拿多少 能领多少 多少钱 奖励多少 补贴多少 优惠多少 力度 能省多少 扶持内容"
            " 啥好处 什么好处 补啥 给啥"
        ),
    ),
    ("conditions", _any("条件 要求 够不够 够格 资格 符合吗 能享受吗 能申请吗 能不能享受 能不能申请")),
    ("phone", _any("电话 找谁 哪个部门 联系 咨询")),
)
ORDINAL = re.compile(r"第\s*([0-9一二两三四五六七八九十])\s*(?:个|项|条|种|款)?|([0-9])\s*号")
THAT_ONE = re.compile(r"那个|这个|那项|这项|那条|这条|它|该政策|这政策|那政策|上面那|刚才那")
LAST_ONE = re.compile(r"最后一个|最后那个|最后一项")
DONT_KNOW = re.compile(r"不知道|不清楚|不太清楚|说不好|不确定|不好说|忘了|随便|都行|先看看|直接说")
MAX_FOLLOW_UP_CHARS = 24
NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


@dataclass(frozen=True)
class Context:
    """This conversation's 惠企政策 state."""

    profile: Profile
    results: tuple[str, ...]
    current: str | None
    asked: tuple[str, ...]

    @classmethod
    def of(cls, tracker: Tracker) -> Context:
        results = tracker.get_slot(RESULTS) or []
        asked = tracker.get_slot(ASKED) or ""
        return cls(
            profile=Profile.from_slot(tracker.get_slot(PROFILE)),
            results=tuple(str(r) for r in results if r) if isinstance(results, list) else (),
            current=tracker.get_slot(CURRENT) or None,
            asked=tuple(a for a in str(asked).split(",") if a),
        )


def today() -> datetime.date:
    return datetime.date.today()


def policies() -> list[Policy]:
    return [p for p in knowledge.knowledge_base().store.all("policy") if isinstance(p, Policy)]


def element_asked(text: str) -> str | None:
    for element, pattern in ELEMENT_CUES:
        if pattern.search(text):
            return element
    return None


def ordinal(text: str, count: int) -> int | None:
    """0-based index of "第二个", "2号", "最后一个" within `count` listed policies."""
    if LAST_ONE.search(text):
        return count - 1 if count else None
    found = ORDINAL.search(text)
    if not found:
        return None
    raw = found.group(1) or found.group(2)
    number = int(raw) if raw.isdigit() else NUMERALS[raw]
    return number - 1


def replied_last_turn(tracker: Tracker) -> bool:
    """Whether the assistant's reply to the previous message was about 惠企政策 (whichever
    action gave it: a follow-up is answered from inside other actions, actions/router.py)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == RESULTS:
            return True  # every 惠企政策 reply sets it (_events)
    return False


# -- replies ---------------------------------------------------------------------------------------


def _events(state: State, ctx: Context, **changes: object) -> list[EventType]:
    values = {PROFILE: ctx.profile.to_slot(), RESULTS: list(ctx.results), CURRENT: ctx.current, ASKED: None}
    values.update(changes)
    return [SlotSet(name, value) for name, value in values.items()] + st.choices_cleared() + st.helped()


def answer_list(dispatcher: CollectingDispatcher, state: State, ctx: Context, profile: Profile) -> list[EventType]:
    day = today()
    ranking: Ranking = rank(policies(), profile, day)
    listed = ranking.candidates[:MAX_LISTED]
    if not listed:
        dispatcher.utter_message(
            text=say.NONE_FOUND.format(profile=profile.describe() or "未说明", excluded=len(ranking.excluded)),
            buttons=[texts.BUTTON_HUMAN],
        )
        return _events(state, ctx, **{PROFILE: profile.to_slot(), RESULTS: [], CURRENT: None})
    dispatcher.utter_message(text=say.list_intro(profile, len(listed)))
    for number, m in enumerate(listed, start=1):
        dispatcher.utter_message(text=say.list_item(number, m, day))
        dispatcher.utter_message(json_message=payloads.answer(m.policy, "match"))
    dispatcher.utter_message(
        text=say.list_outro(ranking, len(listed), missing_facts(listed)),
        buttons=[{"title": "第一个怎么申请", "payload": "第一个怎么申请"}, texts.BUTTON_HUMAN],
    )
    ids = [m.policy.id for m in listed]
    changes = {PROFILE: profile.to_slot(), RESULTS: ids, CURRENT: ids[0]}
    return [*_events(state, ctx, **changes), SlotSet(slots.LAST_ANSWER_ID, ids[0])]


def answer_one(
    dispatcher: CollectingDispatcher, state: State, ctx: Context, policy: Policy, element: str | None
) -> list[EventType]:
    m: Match = match(policy, ctx.profile, today())
    dispatcher.utter_message(text=say.detail(m, element, today()), buttons=[texts.BUTTON_HUMAN])
    dispatcher.utter_message(json_message=payloads.answer(policy, element))
    return [*_events(state, ctx, **{CURRENT: policy.id}), SlotSet(slots.LAST_ANSWER_ID, policy.id)]


def ask(
    dispatcher: CollectingDispatcher, state: State, ctx: Context, profile: Profile, facts: Sequence[str]
) -> list[EventType]:
    dispatcher.utter_message(text=say.ask_facts(facts))
    return _events(state, ctx, **{PROFILE: profile.to_slot(), ASKED: ",".join(facts)})


async def respond(dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str) -> list[EventType]:
    """A 惠企政策 question (ask_policy): a named policy's detail, the question for missing facts, or
    the ranked list."""
    ctx = Context.of(tracker)
    named = named_in(text, policies())
    if named is not None:
        return answer_one(dispatcher, state, ctx, named, element_asked(text))
    profile = ctx.profile.merged(read_profile(text, today()))
    if len(profile.known()) < ENOUGH_FACTS and not ctx.asked and not DONT_KNOW.search(text):
        candidates = rank(policies(), profile, today()).candidates
        facts = missing_facts(candidates)
        if facts:
            return ask(dispatcher, state, ctx, profile, facts)
    return answer_list(dispatcher, state, ctx, profile)


def follow_up(dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str) -> list[EventType] | None:
    """Right after a 惠企政策 reply, a message about it, whatever its intent: the answer to the
    facts just asked for, a listed policy's detail ("第二个怎么申请"), or a new fact that
    changes the list ("我们纳税信用是B级").  None: the message is about something else."""
    if not replied_last_turn(tracker):
        return None
    ctx = Context.of(tracker)
    said = read_profile(text, today())
    if turns.entity_value(tracker, "service") and not (ctx.asked and not said.empty):
        return None  # a service named: a new question (unless it answers the facts just asked for)
    element = element_asked(text)
    index = ordinal(text, len(ctx.results)) if ctx.results else None
    if index is not None and len(text) <= MAX_FOLLOW_UP_CHARS:
        if not 0 <= index < len(ctx.results):
            dispatcher.utter_message(text=say.NOT_LISTED.format(count=len(ctx.results)))
            return _events(state, ctx)
        policy = knowledge.get(ctx.results[index])
        if isinstance(policy, Policy):
            return answer_one(dispatcher, state, ctx, policy, element)
    named = named_in(text, policies())
    if named is not None:
        return answer_one(dispatcher, state, ctx, named, element)
    if ctx.asked and (not said.empty or DONT_KNOW.search(text)):
        return answer_list(dispatcher, state, ctx, ctx.profile.merged(said))
    if element is not None and len(text) <= MAX_FOLLOW_UP_CHARS and (ctx.current or ctx.results):
        current = knowledge.get(ctx.current or ctx.results[0])
        if isinstance(current, Policy) and (THAT_ONE.search(text) or said.empty):
            return answer_one(dispatcher, state, ctx, current, element)
    if not said.empty and ctx.results and len(text) <= MAX_FOLLOW_UP_CHARS * 2:
        return answer_list(dispatcher, state, ctx, ctx.profile.merged(said))
    return None


# A message about subsidies or tax breaks that describes a business ("小型食品厂，成立三年，有啥补贴")
# is a 惠企政策 question whatever intent the NLU gave it.
POLICY_WORDS = re.compile(r"政策|补贴|补助|扶持|优惠|奖励|奖补|贴息|减税|降费|免申即享|帮扶|惠企|稳岗|兑现")


def trusted_policy_question(text: str) -> bool:
    """Whether an ask_policy message says anything of 惠企政策: a policy word, two facts about the
    business ("小型的，做物流的"; one is not enough: "养鸡场" also comes with a question about a loan),
    or a policy's name."""
    if POLICY_WORDS.search(text) or named_in(text, policies()) is not None:
        return True
    return len(read_profile(text, today()).known()) >= ENOUGH_FACTS


def business_question(tracker: Tracker, text: str) -> bool:
    if not POLICY_WORDS.search(text) or turns.entity_value(tracker, "service"):
        return False
    return len(read_profile(text, today()).known()) >= ENOUGH_FACTS


async def intercept(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str
) -> list[EventType] | None:
    """The 惠企政策 reply to a message whatever its intent (actions/router.py), else None."""
    reply = follow_up(dispatcher, tracker, state, text)
    if reply is not None or turns.latest_intent(tracker) == "ask_policy" or not text:
        return reply
    if not turns.entity_value(tracker, "service"):
        named = named_in(text, policies())  # "研发费用加计扣除咋申请": a policy by its name
        if named is not None:
            return answer_one(dispatcher, state, Context.of(tracker), named, element_asked(text))
    if business_question(tracker, text):
        return await respond(dispatcher, tracker, state, text)
    return None


class ActionPolicies(DialogueAction):
    """ask_policy: which 惠企政策 a business may get."""

    def name(self) -> str:
        return NAME

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        text = turns.latest_text(tracker)
        if text and not trusted_policy_question(text):
            # The NLU read a service question as ask_policy ("退休一件事包括啥", "创业担保贷款能贷多少"):
            # without a policy word, a fact about a business or a policy's name it is answered as one.
            from . import answers

            return await answers.answer_question(
                dispatcher, tracker, state, text, answers.requested_element(tracker, text, state)
            )
        return await respond(dispatcher, tracker, state, text)
