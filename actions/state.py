"""The conversation state, in one place: what the assistant knows about the exchange so far.

Rasa slots stay the storage (the tracker store keeps them, a new session carries some over, the
bot service sets `handoff_active` and `service_id` on hand-back); this module is the only reader
and writer of them.  Every action reads `State.of(tracker)` and returns the slot events of the
transition it made (`answered`, `asking`, `walking`, …), so the rules of docs/dialogue.md live
here and not in scattered `get_slot` calls.

    current service / element   what a follow-up ("那要多少钱?") is about
    recent services             the services discussed before, newest first ("刚才那个")
    pending choices             the choices offered last (clarification, examples, centres), what
                                kind they are and what to do once one is chosen (e.g. start the
                                walkthrough the citizen asked for)
    walkthrough                 guide, step, whether it is running
    current centre              the centre named last, and the ones before it ("那另一个呢")
    misses                      the turns in a row the assistant could not help (two: a helper)
    handoff                     whether a helper has the conversation
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from . import slots, turns

RECENT_SERVICES = 5  # services remembered for "刚才那个"
RECENT_CENTERS = 4

ChoiceKind = Literal["entry", "center", "terminal"]
Then = Literal["walkthrough"]


def _tuple(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _pushed(first: str | None, rest: Iterable[str], size: int) -> list[str]:
    """`first` at the front of `rest`, without repeats, at most `size` long."""
    out: list[str] = []
    for item in (first, *rest):
        if item and item not in out:
            out.append(item)
    return out[:size]


@dataclass(frozen=True)
class State:
    service_id: str | None = None
    element: str | None = None
    recent_services: tuple[str, ...] = ()
    last_answer_id: str | None = None
    pending_offer: str | None = None
    pending_element: str | None = None
    choices: tuple[str, ...] = ()
    choice_kind: ChoiceKind | None = None
    then: Then | None = None
    walkthrough_id: str | None = None
    walkthrough_step: int | None = None
    walkthrough_active: bool = False
    handoff_active: bool = False
    misses: int = 0  # the streak the previous turn ended with (turns.previous_fallback_streak)
    center_id: str | None = None
    recent_centers: tuple[str, ...] = field(default=())
    terminals: tuple[str, ...] = ()  # 自助办: the terminals shown last
    terminal_matter: str | None = None  # the guide they were found for

    @classmethod
    def of(cls, tracker: Tracker) -> State:
        get = tracker.get_slot
        kind = get(slots.CHOICE_KIND)
        then = get(slots.PENDING_THEN)
        return cls(
            service_id=get(slots.SERVICE_ID) or None,
            element=get(slots.CURRENT_ELEMENT) or None,
            recent_services=_tuple(get(slots.RECENT_SERVICES)),
            last_answer_id=get(slots.LAST_ANSWER_ID) or None,
            pending_offer=get(slots.PENDING_OFFER) or None,
            pending_element=get(slots.PENDING_ELEMENT) or None,
            choices=_tuple(get(slots.PENDING_CHOICES)),
            choice_kind=kind if kind in ("entry", "center", "terminal") else None,
            then=then if then == "walkthrough" else None,
            walkthrough_id=get(slots.WALKTHROUGH_ID) or None,
            walkthrough_step=_int(get(slots.WALKTHROUGH_STEP)),
            walkthrough_active=bool(get(slots.WALKTHROUGH_ACTIVE)),
            handoff_active=bool(get(slots.HANDOFF_ACTIVE)),
            misses=turns.previous_fallback_streak(tracker),
            center_id=get(slots.CENTER_ID) or None,
            recent_centers=_tuple(get(slots.RECENT_CENTERS)),
            terminals=_tuple(get(slots.TERMINAL_IDS)),
            terminal_matter=get(slots.TERMINAL_MATTER) or None,
        )

    # -- what the state says ---------------------------------------------------------------

    def earlier_service(self) -> str | None:
        """The service discussed before the current one ("刚才那个", "前面那个")."""
        return next((s for s in self.recent_services if s != self.service_id), None)

    def other_center(self) -> str | None:
        """The centre named before the current one ("那另一个呢")."""
        return next((c for c in self.recent_centers if c != self.center_id), None)

    @property
    def has_choices(self) -> bool:
        return bool(self.choices)


# -- transitions: each returns the slot events that make it so ------------------------------


def _clear_choices() -> list[EventType]:
    return [
        SlotSet(slots.PENDING_CHOICES, None),
        SlotSet(slots.CHOICE_KIND, None),
        SlotSet(slots.PENDING_THEN, None),
    ]


def answered(state: State, entry_id: str, service_id: str, element: str | None) -> list[EventType]:
    """An answer from the KB about `service_id` (and `element`): it becomes the current service,
    the previous one moves into the recent services, the turn counts as helped."""
    recent = _pushed(service_id, [state.service_id or "", *state.recent_services], RECENT_SERVICES)
    return [
        SlotSet(slots.SERVICE_ID, service_id),
        SlotSet(slots.LAST_ANSWER_ID, entry_id),
        SlotSet(slots.CURRENT_ELEMENT, element),
        SlotSet(slots.RECENT_SERVICES, recent),
        SlotSet(slots.PENDING_ELEMENT, None),
        SlotSet(slots.PENDING_OFFER, None),
        *_clear_choices(),
        SlotSet(slots.FALLBACK_STREAK, 0),
    ]


def asking(
    state: State,
    choices: Iterable[str],
    kind: ChoiceKind,
    element: str | None,
    then: Then | None = None,
    offer: str | None = None,
) -> list[EventType]:
    """Choices offered (clarification, examples, centres): a number, an ordinal, part of a title
    or a button picks one later.  Asking is neither a success nor a failure: the streak stays."""
    return [
        SlotSet(slots.PENDING_ELEMENT, element),
        SlotSet(slots.PENDING_OFFER, offer),
        *offered(choices, kind, then),
        SlotSet(slots.FALLBACK_STREAK, state.misses),
    ]


def offered(choices: Iterable[str], kind: ChoiceKind, then: Then | None = None) -> list[EventType]:
    """Only the choices (and what to do after one), nothing else changes."""
    return [
        SlotSet(slots.PENDING_CHOICES, list(choices)),
        SlotSet(slots.CHOICE_KIND, kind),
        SlotSet(slots.PENDING_THEN, then),
    ]


def missed(state: State, offer: str | None = None, keep_choices: bool = False) -> list[EventType]:
    """The assistant could not help: one more miss in a row; what was pending is dropped."""
    events: list[EventType] = [
        SlotSet(slots.FALLBACK_STREAK, state.misses + 1),
        SlotSet(slots.PENDING_OFFER, offer),
        SlotSet(slots.PENDING_ELEMENT, None),
    ]
    return events if keep_choices else events + _clear_choices()


def walking(state: State, guide_id: str, step: int) -> list[EventType]:
    """A walkthrough step shown: the guide is the current service, element `online`."""
    return [
        SlotSet(slots.WALKTHROUGH_ID, guide_id),
        SlotSet(slots.WALKTHROUGH_STEP, step),
        SlotSet(slots.WALKTHROUGH_ACTIVE, True),
        *answered(state, guide_id, guide_id, "online"),
    ]


def walk_ended(guide_id: str) -> list[EventType]:
    return [
        SlotSet(slots.WALKTHROUGH_ACTIVE, False),
        SlotSet(slots.WALKTHROUGH_STEP, None),
        SlotSet(slots.LAST_ANSWER_ID, guide_id),
    ]


def walk_paused() -> list[EventType]:
    return [SlotSet(slots.WALKTHROUGH_ACTIVE, False), SlotSet(slots.PENDING_OFFER, None)]


def center_shown(state: State, center_id: str) -> list[EventType]:
    recent = _pushed(center_id, [state.center_id or "", *state.recent_centers], RECENT_CENTERS)
    return [
        SlotSet(slots.LAST_ANSWER_ID, center_id),
        SlotSet(slots.CENTER_ID, center_id),
        SlotSet(slots.RECENT_CENTERS, recent),
        SlotSet(slots.PENDING_OFFER, None),
        *_clear_choices(),
        SlotSet(slots.FALLBACK_STREAK, 0),
    ]


def terminals_shown(state: State, terminal_ids: list[str], matter_id: str | None) -> list[EventType]:
    """自助办 terminals shown (found for `matter_id`): follow-ups are about them, "第二个" picks one;
    the matter becomes the service in context ("要带啥" after the terminals is about it)."""
    events: list[EventType] = [
        SlotSet(slots.TERMINAL_IDS, terminal_ids),
        SlotSet(slots.TERMINAL_MATTER, matter_id),
        SlotSet(slots.LAST_ANSWER_ID, terminal_ids[0]),
        SlotSet(slots.PENDING_OFFER, None),
        SlotSet(slots.PENDING_ELEMENT, None),
        SlotSet(slots.FALLBACK_STREAK, 0),
    ]
    if matter_id and matter_id != state.service_id:
        recent = _pushed(matter_id, [state.service_id or "", *state.recent_services], RECENT_SERVICES)
        events += [
            SlotSet(slots.SERVICE_ID, matter_id),
            SlotSet(slots.CURRENT_ELEMENT, None),
            SlotSet(slots.RECENT_SERVICES, recent),
        ]
    return events + (offered(terminal_ids, "terminal") if len(terminal_ids) > 1 else _clear_choices())


def handed_over() -> list[EventType]:
    return [
        SlotSet(slots.HANDOFF_ACTIVE, True),
        SlotSet(slots.PENDING_OFFER, None),
        *_clear_choices(),
        SlotSet(slots.FALLBACK_STREAK, 0),
    ]


def offer(name: str | None) -> list[EventType]:
    """Something a yes/no answers now (or nothing)."""
    return [SlotSet(slots.PENDING_OFFER, name)]


def dropped() -> list[EventType]:
    """Whatever was pending (an offer, choices, an element) is let go ("算了")."""
    return [SlotSet(slots.PENDING_OFFER, None), SlotSet(slots.PENDING_ELEMENT, None), *_clear_choices()]


def walk_not_running() -> list[EventType]:
    return [SlotSet(slots.WALKTHROUGH_ACTIVE, False)]


def helped() -> list[EventType]:
    """A turn the assistant handled (small talk, an acknowledgement): the miss streak ends."""
    return [SlotSet(slots.FALLBACK_STREAK, 0)]


def choices_cleared() -> list[EventType]:
    return _clear_choices()
