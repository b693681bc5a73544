"""自助办: which self-service terminals (24-hour 政务服务便利店, 自助服务区, 自助终端) serve the
matter asked, nearest first, and follow-ups about the ones just shown.

"附近哪有能打社保证明的自助机": the matter is the guide the rest of the message names (社保参保证明),
the place is the citizen's street or town (the `place` entity, a place named in the message, or the
place said earlier), found the way 就近办 finds centres (actions/knowledge.center_for_place).
Terminals in that area come first, then those open 24 hours.  Without a place the answer lists the
24-hour ones first and asks where the citizen is.

Right after such an answer, a short message is about the terminals shown: "几点关门" / "24小时吗"
(their hours), "在哪" (where exactly), "能办啥" (the matters they serve), "有24小时的吗" (only
those), "我在崔寨" (the nearest to that place, for the same matter), "第二个" (that one).
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.models import Center, Guide, Terminal
from knowledge_base.question import question_part

from . import answers, knowledge, payloads, slots, texts, turns
from . import state as st
from .router import DialogueAction
from .state import State

SHOWN = 3  # terminals listed in one answer
MAX_FOLLOW_UP_CHARS = 16

# Words that name a terminal, not the matter.
TERMINAL_WORDS = re.compile(
    r"(24小时|二十四小时|7[x×*]24|政务服务便利店|便利店|自助服务区|自助服务|自助终端|自助一体机|一体机|自助机器|自助机|"
    r"自助区|自助|机器)"
)
# What is left of "附近哪有能打…的自助机" around the matter.
FILLER = re.compile(
    r"(附近|就近|最近|离我近|离我最近|家门口|周边|哪里有|哪儿有|哪有|在哪里|在哪儿|在哪|有没有|有吗|有木有|哪个|能打印|可以打印|"
    r"能打|可以打|打印|能办|可以办|能弄|能不能|可以|俺|我|咱|这|那|的|吗|啊|呀|呢|哪|里)"
)
HOURS = re.compile(r"(几点|关门|开门|营业|开放|时间|24小时|二十四小时|全天|晚上|夜里|半夜|周末|节假日|下班|上班)")
ALWAYS_OPEN_ASKED = re.compile(
    r"(有没有|有.{0,3}24小时.{0,2}的|哪个是|哪些是|哪个.{0,3}24|晚上能|半夜能|夜里能|下班后)"
)
SERVES = re.compile(r"(能办啥|能办什么|能干啥|能干什么|能做啥|都办啥|办什么|办啥|哪些业务|什么业务|啥业务|功能)")
# A question for a terminal: a terminal word with a where-word ("附近哪有自助机", "有24小时自助机吗").
TERMINAL_ASKED = re.compile(r"(自助|便利店|一体机)")
WHERE_IS = re.compile(r"(哪|附近|就近|最近|离.{0,4}近|有没有|有吗|有木有)")
WHERE = re.compile(r"(在哪|哪儿|哪里|地址|位置|怎么走|咋走|怎么去|咋去)")


def asks_terminal(text: str) -> bool:
    return bool(TERMINAL_ASKED.search(text) and WHERE_IS.search(text))


def all_terminals() -> tuple[Terminal, ...]:
    return tuple(t for t in knowledge.knowledge_base().store.all("terminal") if isinstance(t, Terminal))


def serving(guide: Guide | None) -> list[Terminal]:
    return [t for t in all_terminals() if guide is None or guide.id in t.guides]


def nearest(terminals: list[Terminal], area: str | None) -> list[Terminal]:
    """Those in the citizen's street or town first, then those open 24 hours."""
    district = knowledge.district_center()
    central = district.area if district is not None else None
    return sorted(terminals, key=lambda t: (area is None or t.area != area, not t.always_open, t.area != central, t.id))


async def matter_of(tracker: Tracker, text: str) -> Guide | None:
    """The guide the message asks a terminal for ("能打社保证明的" → 社保参保证明), if any."""
    name = turns.entity_value(tracker, "service")
    named = knowledge.guide_by_name(name) if name else None
    if named is not None:
        return named
    rest = turns.without_entities(text, tracker, ("place",))
    rest = FILLER.sub(" ", TERMINAL_WORDS.sub(" ", knowledge.without_place_names(question_part(rest))))
    if not knowledge.has_terms(rest):
        return None
    match = await knowledge.find(rest, ("guide",))
    if match.outcome == "none":
        return None
    found = [g for g in (knowledge.get(hit.id) for hit in match.choices) if isinstance(g, Guide)]
    served = [g for g in found if serving(g)]
    if match.outcome == "answer" and found:
        return found[0]
    return served[0] if served else None


def area_of(tracker: Tracker, text: str) -> str | None:
    """The citizen's street or town: named now (entity or words), else said earlier."""
    for place in (turns.entity_value(tracker, "place"), text, tracker.get_slot(slots.PLACE)):
        if not place:
            continue
        center: Center | None = knowledge.center_for_place(str(place)) or knowledge.center_by_misspelling(str(place))
        if center is not None and center.level != "区级":
            return center.area
    return None


def card(terminal: Terminal, index: int | None = None) -> str:
    hours = "24小时开放" if terminal.always_open else terminal.hours
    head = f"{index}. " if index is not None else ""
    return f"{head}{terminal.name}（{hours}）\n   位置：{terminal.place}\n   地址：{terminal.address}"


def _matters(terminal: Terminal) -> str:
    titles = [knowledge.short_title(knowledge.title(g)) for g in map(knowledge.get, terminal.guides) if g is not None]
    return "、".join(titles + terminal.services)


def show(
    dispatcher: CollectingDispatcher,
    state: State,
    shown: list[Terminal],
    matter: Guide | None,
    intro: str,
    ask_place: bool = False,
) -> list[EventType]:
    lines = [intro, *(card(t, i) for i, t in enumerate(shown, start=1))]
    if len(shown) == 1:
        lines.append(texts.TERMINAL_SERVES + _matters(shown[0]))
    if ask_place:
        lines.append(texts.TERMINAL_ASK_PLACE)
    lines.append(texts.source_terminals(shown))
    dispatcher.utter_message(text="\n".join(lines))
    # One answer payload per text answer (docs/payloads.md): the terminal listed first, the nearest.
    dispatcher.utter_message(json_message=payloads.answer(shown[0], None))
    return st.terminals_shown(state, [t.id for t in shown], matter.id if matter else None)


async def answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str, area: str | None = None
) -> list[EventType]:
    """The terminals for the matter asked (or every one), nearest to the citizen's place first."""
    matter = await matter_of(tracker, text)
    area = area or area_of(tracker, text)
    return _list(dispatcher, state, matter, area)


def _list(
    dispatcher: CollectingDispatcher,
    state: State,
    matter: Guide | None,
    area: str | None,
    always_open_only: bool = False,
) -> list[EventType]:
    found = serving(matter)
    if always_open_only:
        found = [t for t in found if t.always_open]
    if not found:
        if matter is None:
            dispatcher.utter_message(text=texts.NO_TERMINAL_AT_ALL, buttons=[texts.BUTTON_HUMAN])
            return st.helped()
        dispatcher.utter_message(text=texts.NO_TERMINAL.format(title=matter.title))
        return answers.answer_element(dispatcher, state, matter, "location")
    ordered = nearest(found, area)[:SHOWN]
    what = f"能办《{knowledge.short_title(matter.title)}》的" if matter else ""
    if always_open_only:
        intro = texts.TERMINALS_ALWAYS_OPEN.format(what=what)
    elif area is not None:
        intro = texts.TERMINALS_NEAR.format(what=what, area=area)
    else:
        intro = texts.TERMINALS.format(what=what)
    ask_place = area is None and not always_open_only and len(found) > 1
    return show(dispatcher, state, ordered, matter, intro, ask_place)


def shown_now(state: State) -> list[Terminal]:
    """The terminals of the last answer, when the last answer was about terminals."""
    if not state.terminals or state.last_answer_id not in state.terminals:
        return []
    return [t for t in map(knowledge.get, state.terminals) if isinstance(t, Terminal)]


def follow_up(dispatcher: CollectingDispatcher, tracker: Tracker, state: State, text: str) -> list[EventType] | None:
    """A short message right after terminals were shown, about them; None when it is not (also when
    it names a matter of its own: "能打无房证明的在哪" is a new question)."""
    shown = shown_now(state)
    if not shown or not text or len(text) > MAX_FOLLOW_UP_CHARS or _names_a_matter(tracker, text):
        return None
    matter = knowledge.get(state.terminal_matter)
    matter = matter if isinstance(matter, Guide) else None
    place = turns.entity_value(tracker, "place") or text
    center = knowledge.center_for_place(str(place)) or knowledge.center_by_misspelling(str(place))
    if center is not None and center.level != "区级" and not HOURS.search(text):
        return _list(dispatcher, state, matter, center.area)  # "我在崔寨": nearest to that place
    if HOURS.search(text) and ALWAYS_OPEN_ASKED.search(text):
        return _list(dispatcher, state, matter, None, always_open_only=True)
    if HOURS.search(text):
        lines = [texts.terminal_hours(t) for t in shown]
        return _detail(dispatcher, state, shown, lines)
    if WHERE.search(text):
        lines = [f"{t.name}：{t.place}，{t.address}" for t in shown]
        return _detail(dispatcher, state, shown, lines)
    if SERVES.search(text):
        lines = [f"{t.name}{texts.TERMINAL_SERVES}{_matters(t)}" for t in shown]
        return _detail(dispatcher, state, shown, lines)
    return None


def _names_a_matter(tracker: Tracker, text: str) -> bool:
    if turns.entity_value(tracker, "service"):
        return True
    rest = knowledge.without_place_names(turns.without_entities(text, tracker, ("place", "element")))
    for pattern in (TERMINAL_WORDS, HOURS, WHERE, ALWAYS_OPEN_ASKED, SERVES, FILLER):
        rest = pattern.sub(" ", rest)
    return knowledge.has_terms(rest)


def _detail(dispatcher: CollectingDispatcher, state: State, shown: list[Terminal], lines: list[str]) -> list[EventType]:
    dispatcher.utter_message(text="\n".join([*lines, texts.source_terminals(shown)]))
    dispatcher.utter_message(json_message=payloads.answer(shown[0], None))
    return st.terminals_shown(state, [t.id for t in shown], state.terminal_matter)


def answer_terminal(dispatcher: CollectingDispatcher, state: State, terminal: Terminal) -> list[EventType]:
    """One terminal picked from a list ("第二个")."""
    matter = knowledge.get(state.terminal_matter)
    return show(dispatcher, state, [terminal], matter if isinstance(matter, Guide) else None, "")


class ActionSelfService(DialogueAction):
    """ask_terminal: 自助机 / 24小时政务服务便利店 for a matter, near the citizen."""

    def name(self) -> str:
        return "action_self_service"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, state: State) -> list[EventType]:
        text = turns.latest_text(tracker)
        if not text:  # a button: the place it names, the matter before
            place = turns.entity_value(tracker, "place")
            matter = knowledge.get(state.terminal_matter)
            return _list(
                dispatcher, state, matter if isinstance(matter, Guide) else None, area_of(tracker, place or "")
            )
        return await answer(dispatcher, tracker, state, text)
