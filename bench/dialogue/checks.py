"""Judging one turn: what the assistant did (from the REST replies, the conversation state and the
Rasa tracker) against what the scenario expects, and why a failed turn failed.

Kept free of I/O so the logic is tested on canned replies (tests/test_bench_dialogue.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .scenarios import ENTRY_OUTCOMES, Turn

CHOOSE_PREFIX = "/choose_entry"
# Reasons of the `unresolved` payload (docs/payloads.md) that mean "not understood / cannot help".
FALLBACK_REASONS = frozenset({"not_found", "out_of_scope", "no_words", "none_of_them"})
# When the tracker shows no `unresolved` payload (e.g. a newer action emits none), the reply text.
FALLBACK_TEXT = re.compile(r"没有找到|没有看懂|没看懂|没听明白|没明白|回答不了|换个说法")
CLARIFY_TEXT = re.compile(r"您想问的是|哪一项|哪一个")
HELPER_OFFER_TEXT = re.compile(r"需要.{0,6}转接?人工|转接人工帮办吗")
ASKS_PLACE_TEXT = re.compile(r"哪个街道|哪个镇|街道或镇")
ASKS_PROFILE_TEXT = re.compile(r"先问您\d个情况")  # actions/policy_texts.ASK_INTRO

FAILURE_CLASSES = ("confidently_wrong", "needless_clarification", "missed", "wrong_state", "other")


def read_slots(tracker: dict[str, Any]) -> dict[str, Any]:
    """The slots this benchmark looks at, from a Rasa tracker.  The ONE place to adapt when the
    dialogue state moves (e.g. into a single structured slot): return flat names → values."""
    slots = dict(tracker.get("slots") or {})
    state = slots.get("dialogue_state")
    if isinstance(state, dict):  # a structured state slot, if one is added: flatten its fields
        slots.update({k: v for k, v in state.items() if k not in slots})
    return slots


def user_messages(tracker: dict[str, Any]) -> int:
    return sum(1 for e in tracker.get("events") or [] if e.get("event") == "user")


def turn_payloads(tracker: dict[str, Any], users_before: int = -1) -> list[dict[str, Any]]:
    """The custom payloads the assistant sent after the latest user message; none when Rasa did
    not get this turn's message (more user messages than `users_before` are needed)."""
    events = tracker.get("events") or []
    if user_messages(tracker) <= users_before:
        return []
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    found = []
    for event in events[last_user + 1 :]:
        custom = (event.get("data") or {}).get("custom") if event.get("event") == "bot" else None
        if isinstance(custom, dict):
            found.append(custom)
    return found


@dataclass
class Observed:
    """Everything seen for one turn."""

    replies: list[dict[str, Any]]
    state: str
    status: str = "answered"
    payloads: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(str(r.get("text") or "") for r in self.replies)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for r in self.replies for b in (r.get("buttons") or [])]

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [r["entry"] for r in self.replies if r.get("entry")]

    @property
    def answered(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if not _is_centre(e)]

    @property
    def centres(self) -> list[str]:
        return [e["id"] for e in self.entries if _is_centre(e)]

    @property
    def walkthrough(self) -> dict[str, Any] | None:
        steps = [r["walkthrough"] for r in self.replies if isinstance(r.get("walkthrough"), dict)]
        if not steps:
            steps = [p for p in self.payloads if p.get("type") == "walkthrough"]
        return steps[-1] if steps else None

    def unresolved(self) -> list[dict[str, Any]]:
        return [p for p in self.payloads if p.get("type") == "unresolved"]

    def choices(self) -> list[str] | None:
        """The entries a clarifying question offered, in order; None when it did not clarify."""
        for payload in self.unresolved():
            if payload.get("reason") == "clarify":
                return [str(c) for c in payload.get("choices") or []]
        if self.unresolved() or self.entries:
            return None
        ids = [_chosen_id(b["payload"]) for b in self.buttons if b.get("payload", "").startswith(CHOOSE_PREFIX)]
        ids = [i for i in ids if i]
        return ids if ids and CLARIFY_TEXT.search(self.text) else None

    def outcomes(self) -> set[str]:
        found: set[str] = set()
        if self.answered:
            found.add("answer")
        if self.centres:
            found.add("centre")
        if self.walkthrough is not None:
            found.add("walkthrough")
        if self.choices() is not None:
            found.add("clarify")
        reasons = {p.get("reason") for p in self.unresolved()}
        if reasons & FALLBACK_REASONS or (
            not self.unresolved() and not self.entries and "clarify" not in found and FALLBACK_TEXT.search(self.text)
        ):
            found.add("fallback")
        payloads = {b.get("payload") for b in self.buttons}
        titles = " ".join(b.get("title", "") for b in self.buttons if b.get("payload") == "/affirm")
        if (
            ("/request_human" in payloads and not self.entries)
            or "人工" in titles
            or HELPER_OFFER_TEXT.search(self.text)
        ):
            found.add("helper_offered")
        if self.state in ("waiting_helper", "with_helper") or any(p.get("type") == "handoff" for p in self.payloads):
            found.add("handoff")
        if ASKS_PLACE_TEXT.search(self.text) and not self.entries:
            found.add("asks_place")
        if ASKS_PROFILE_TEXT.search(self.text) and not self.entries:
            found.add("asks_profile")
        if not found and self.text.strip():
            found.add("chitchat")
        return found


def _is_centre(entry: dict[str, Any]) -> bool:
    return entry.get("kind") == "center" or str(entry.get("id", "")).startswith("center.")


def _chosen_id(payload: str) -> str | None:
    match = re.search(r'"entry_id"\s*:\s*"([^"]+)"', payload)
    return match.group(1) if match else None


@dataclass
class Verdict:
    passed: bool
    failed_checks: list[str]
    failure: str | None  # one of FAILURE_CLASSES when failed
    got: str  # short description of what was observed


def resolve_entries(expected: list[str] | None, last_choices: list[str] | None) -> list[str] | None:
    """Replace "@N" / "@last" by the N-th / last choice of the most recent clarification."""
    if expected is None:
        return None
    resolved = []
    for name in expected:
        if not name.startswith("@"):
            resolved.append(name)
        elif last_choices:
            index = len(last_choices) - 1 if name == "@last" else int(name[1:]) - 1
            if 0 <= index < len(last_choices):
                resolved.append(last_choices[index])
    return resolved  # may be empty: a reference with no clarification before it cannot be met


def describe(observed: Observed) -> str:
    if observed.error:
        return f"error: {observed.error}"
    parts = sorted(observed.outcomes()) or ["nothing"]
    entries = [f"{e['id']}" + (f"#{e['element']}" if e.get("element") else "") for e in observed.entries]
    walk = observed.walkthrough
    if walk:
        parts.append(f"step {walk.get('step')}/{walk.get('total')} of {walk.get('entry_id')}")
    if entries:
        parts.append(" ".join(entries))
    choices = observed.choices()
    if choices:
        parts.append("choices " + ", ".join(choices))
    if observed.state != "bot":
        parts.append(f"state {observed.state}")
    snippet = observed.text.replace("\n", " ")[:60]
    return "; ".join(parts) + (f" — “{snippet}”" if snippet else "")


def _slot_equal(got: Any, want: Any) -> bool:
    if isinstance(want, bool) or want is None:
        return bool(got) == bool(want) if isinstance(want, bool) else got is None
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(got) == float(want)
    return bool(got == want)


def judge(turn: Turn, observed: Observed, last_choices: list[str] | None = None) -> Verdict:
    """Every check the turn asks for; the failure class of the first reason it failed."""
    failed: list[str] = []
    got = describe(observed)
    if observed.error:
        # A press of a button the previous reply did not offer: the conversation is not where it should be.
        failure = "wrong_state" if observed.error.startswith("no button") else "other"
        return Verdict(False, ["error"], failure, got)
    outcomes = observed.outcomes()
    wanted = turn.expected_outcomes()
    acceptable = resolve_entries(turn.entry, last_choices)
    if turn.centre:
        acceptable = [*(acceptable or []), turn.centre]

    if wanted is not None and not outcomes & set(wanted):
        failed.append("outcome")

    # The entry the turn is about: the walkthrough's, else a centre's or an answer's.
    walk = observed.walkthrough
    if "walkthrough" in (wanted or []) and walk is not None:
        got_ids = [str(walk.get("entry_id"))]
    else:
        got_ids = [e["id"] for e in observed.entries]
    matching = [e for e in observed.entries if acceptable is not None and e["id"] in acceptable]
    if acceptable is not None and got_ids and not set(got_ids) & set(acceptable):
        failed.append("entry")
    if acceptable is not None and not acceptable and turn.entry:
        failed.append("entry")  # "@N" with no clarification to refer to

    if turn.element is not None:
        guides = [e for e in matching if e.get("kind") != "qa"]
        if guides and not any(e.get("element") in turn.element for e in guides):
            failed.append("element")
        elif not matching and got_ids:
            pass  # the entry check already failed
    if turn.step is not None and (walk is None or int(walk.get("step") or 0) != turn.step):
        failed.append("step")
    if turn.choices is not None:
        offered = observed.choices() or []
        if not set(turn.choices) <= set(offered):
            failed.append("choices")
    if turn.state is not None and observed.state != turn.state:
        failed.append("state")
    for name, want in (turn.slots or {}).items():
        if not _slot_equal(observed.slots.get(name), want):
            failed.append(f"slot {name}")
    if turn.text is not None and not re.search(turn.text, observed.text):
        failed.append("text")
    if turn.text_not is not None and re.search(turn.text_not, observed.text):
        failed.append("text_not")

    if not failed:
        return Verdict(True, [], None, got)
    return Verdict(False, failed, classify(turn, observed, failed, acceptable, wanted), got)


def classify(
    turn: Turn, observed: Observed, failed: list[str], acceptable: list[str] | None, wanted: list[str] | None
) -> str:
    outcomes = observed.outcomes()
    wanted_set = set(wanted or [])
    answered_ids = [e["id"] for e in observed.entries]
    if answered_ids and ("entry" in failed or "outcome" in failed):
        wrong_entry = acceptable is not None and not set(answered_ids) & set(acceptable)
        no_entry_wanted = wanted is not None and not wanted_set & ENTRY_OUTCOMES
        if wrong_entry or no_entry_wanted:
            return "confidently_wrong"
    if "clarify" in outcomes and "clarify" not in wanted_set and "outcome" in failed:
        return "needless_clarification"
    if "outcome" in failed and wanted_set & ENTRY_OUTCOMES and not answered_ids and "clarify" not in outcomes:
        return "missed"
    state_checks = {"state", "step", "choices", "outcome"}
    if any(name in state_checks or name.startswith("slot ") for name in failed):
        return "wrong_state"
    return "other"
