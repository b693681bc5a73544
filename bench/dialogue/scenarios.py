"""The conversation scenarios (bench/dialogue/scenarios/*.yml): loading, validation, dev/test split.

A scenario is one conversation: turns in which the citizen says something or presses a button of
the previous reply, each with what is expected.  The split is not written in the files: it is a
seeded hash of the scenario id, so nobody picks which conversations are held out, and adding a
scenario never moves another one between splits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, root_validator, validator

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SPLIT_SEED = "jsb-dialogue-2026"

# What a turn can be expected to produce (bench/dialogue/checks.py observes the same names).
OUTCOMES = (
    "answer",  # an answer from a KB entry (guide or Q&A)
    "centre",  # a service centre (就近办)
    "walkthrough",  # a step of an online walkthrough
    "clarify",  # "您想问的是…?" with entries to choose from
    "fallback",  # not understood / out of scope: no KB answer, no chit-chat
    "helper_offered",  # the assistant offers to hand over to a person
    "handoff",  # handed to a person (the conversation waits for a helper)
    "asks_place",  # 就近办 without a place: asks which street or town
    "chitchat",  # greeting, thanks, goodbye, "what can you do"
    "asks_profile",  # 惠企政策 without enough facts: asks about the business first
)
ELEMENTS = (
    "materials",
    "conditions",
    "process",
    "time_limit",
    "fee",
    "location",
    "phone",
    "online",
    "legal_basis",
    "audience",
    "cross_region",  # 跨域通办 (issue #18)
    # a 惠企政策's (actions/policy_texts.ELEMENTS; conditions, materials and phone as above)
    "match",  # listed among the policies that may apply
    "apply",
    "deadline",
    "benefit",
)
# Outcomes that come with a KB entry in the reply.
ENTRY_OUTCOMES = frozenset({"answer", "centre", "walkthrough"})
State = Literal["bot", "waiting_helper", "with_helper"]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Turn(BaseModel):
    """What the citizen does and what is expected.  `entry` may hold "@N" / "@last": the N-th /
    last choice of the most recent clarifying question in the same conversation."""

    class Config:
        extra = "forbid"
        frozen = True
        smart_union = True

    say: str | None = None
    press: int | str | None = None
    outcome: list[str] | None = None
    entry: list[str] | None = None
    element: list[str] | None = None
    choices: list[str] | None = None
    step: int | None = Field(default=None, ge=1)
    centre: str | None = None
    state: State | None = None
    slots: dict[str, Any] | None = None
    text: str | None = None
    text_not: str | None = None

    _lists = validator("outcome", "entry", "element", pre=True, allow_reuse=True)(_as_list)

    @validator("outcome")
    def _known_outcomes(cls, value: list[str] | None) -> list[str] | None:  # noqa: N805 - pydantic validators take cls
        for name in value or []:
            if name not in OUTCOMES:
                raise ValueError(f"unknown outcome {name!r} (one of {', '.join(OUTCOMES)})")
        return value

    @validator("element")
    def _known_elements(cls, value: list[str] | None) -> list[str] | None:  # noqa: N805
        for name in value or []:
            if name not in ELEMENTS:
                raise ValueError(f"unknown element {name!r}")
        return value

    @root_validator(skip_on_failure=True)
    def _one_action_some_expectation(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if (values.get("say") is None) == (values.get("press") is None):
            raise ValueError("a turn has exactly one of say / press")
        if all(value is None for name, value in values.items() if name not in ("say", "press")):
            raise ValueError("a turn must expect something")
        return values

    def expected_outcomes(self) -> list[str] | None:
        """The outcomes the turn accepts: given, or implied by what it expects."""
        if self.outcome is not None:
            return self.outcome
        if self.step is not None:
            return ["walkthrough"]
        if self.centre is not None:
            return ["centre"]
        if self.choices is not None:
            return ["clarify"]
        if self.entry is not None or self.element is not None:
            centres = [entry.startswith("center.") for entry in self.entry or []]
            if centres and all(centres):
                return ["centre"]
            return ["answer", "centre"] if any(centres) else ["answer"]
        return None

    def entry_ids(self) -> list[str]:
        """Every literal entry id the turn names (not the "@N" references)."""
        named = [e for e in (self.entry or []) if not e.startswith("@")]
        return named + list(self.choices or []) + ([self.centre] if self.centre else [])


class Scenario(BaseModel):
    class Config:
        extra = "forbid"
        frozen = True

    id: str
    category: str
    split: Literal["dev", "test"]
    turns: list[Turn] = Field(min_items=1)


def split_of(scenario_id: str) -> Literal["dev", "test"]:
    digest = hashlib.sha256(f"{SPLIT_SEED}:{scenario_id}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def load(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario of every file, in file order; ids must be unique."""
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = data["category"]
        for raw in data["scenarios"]:
            if raw["id"] in seen:
                raise ValueError(f"{path.name}: duplicate scenario id {raw['id']}")
            seen.add(raw["id"])
            scenarios.append(Scenario(category=category, split=split_of(raw["id"]), **raw))
    return scenarios


def select(scenarios: list[Scenario], split: str = "all", category: str | None = None) -> list[Scenario]:
    return [
        s for s in scenarios if (split == "all" or s.split == split) and (category is None or s.category == category)
    ]
