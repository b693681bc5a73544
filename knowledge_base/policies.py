"""惠企政策 matching: which policies a business (its possibly partial profile) may get.

Each criterion of a policy (knowledge_base.models.PolicyCriteria) is checked against the profile
(knowledge_base.business_profile.Profile) and is one of

    met      the profile says the business meets it
    unknown  the profile does not say (the business must still check it: "还需确认")
    failed   the profile says the business does not meet it

A policy with a failed criterion, or past its deadline, is excluded; the others are candidates,
ranked by how well the known facts fit (`score`: criteria met minus criteria unknown, an unknown
qualification counting twice), then fewest unknown, then 免申即享 (nothing to do), then the
nearest deadline (act first), then the most local level (区 before 国家).
The facts worth asking for are those unknown to the most candidates (`missing_facts`).

Pure: no I/O, today's date is a parameter; unit-tested in tests/test_policies.py.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .business_profile import FACTS, Profile
from .models import INDUSTRIES, PLACES, Policy, PolicyCriteria

Status = Literal["met", "unknown", "failed"]
LEVEL_ORDER = {"区": 0, "市": 1, "省": 2, "国家": 3}
FAR_AWAY = datetime.date(9999, 12, 31)


@dataclass(frozen=True)
class Check:
    fact: str  # the profile fact it is about (business_profile.FACTS)
    requirement: str  # what the policy asks, in Chinese: "小型或微型企业"
    status: Status


@dataclass(frozen=True)
class Match:
    policy: Policy
    checks: tuple[Check, ...]
    expired: bool = False

    @property
    def met(self) -> list[Check]:
        return [c for c in self.checks if c.status == "met"]

    @property
    def unknown(self) -> list[Check]:
        return [c for c in self.checks if c.status == "unknown"]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]

    @property
    def eligible(self) -> bool:
        return not self.failed and not self.expired

    @property
    def to_check(self) -> list[str]:
        """What the business must still check itself: unknown criteria, then the conditions no
        profile can tell (the policy's other_conditions)."""
        return [c.requirement for c in self.unknown] + list(self.policy.other_conditions)


@dataclass(frozen=True)
class Ranking:
    candidates: tuple[Match, ...]  # best first
    excluded: tuple[Match, ...]


def deadline_of(policy: Policy) -> datetime.date | None:
    return datetime.date.fromisoformat(policy.deadline) if policy.deadline else None


def _within(industry: str, wanted: Sequence[str]) -> bool:
    """An industry meets a list that names it or a wider industry it belongs to."""
    current: str | None = industry
    while current is not None:
        if current in wanted:
            return True
        current = INDUSTRIES.get(current)
    return False


def _ancestors(place: str) -> list[str]:
    out = []
    current: str | None = place
    while current is not None:
        out.append(current)
        current = PLACES.get(current)
    return out


def _place_status(place: str | None, wanted: Sequence[str]) -> Status:
    if place is None:
        return "unknown"
    if any(w in _ancestors(place) for w in wanted):
        return "met"  # the business is inside one of the places
    if any(place in _ancestors(w) for w in wanted):
        return "unknown"  # "济南" said, the policy wants 济阳区: may be
    return "failed"


def _or(values: Iterable[str], suffix: str = "") -> str:
    return "或".join(f"{v}{suffix}" for v in values)


def check_all(criteria: PolicyCriteria, profile: Profile) -> list[Check]:
    """One check per criterion the policy sets (a criterion left empty is 不限: no check)."""
    checks: list[Check] = []
    if criteria.industries:
        status: Status = "unknown"
        if profile.industry is not None:
            status = "met" if _within(profile.industry, criteria.industries) else "failed"
        checks.append(Check("industry", f"行业为{_or(criteria.industries)}", status))
    if criteria.sizes:
        status = "unknown"
        if profile.sizes:
            inside = [s in criteria.sizes for s in profile.sizes]
            status = "met" if all(inside) else "failed" if not any(inside) else "unknown"
        checks.append(Check("size", f"{_or(criteria.sizes)}企业", status))
    if criteria.min_years is not None or criteria.max_years is not None:
        low, high = criteria.min_years, criteria.max_years
        parts = ([f"成立满{low:g}年"] if low is not None else []) + (
            [f"成立不超过{high:g}年"] if high is not None else []
        )
        status = "unknown"
        if profile.years is not None:
            ok = (low is None or profile.years >= low) and (high is None or profile.years <= high)
            status = "met" if ok else "failed"
        checks.append(Check("years", "、".join(parts), status))
    if criteria.places:
        checks.append(Check("place", f"注册在{_or(criteria.places)}", _place_status(profile.place, criteria.places)))
    if criteria.tax_credit:
        status = "unknown"
        if profile.tax_credit is not None:
            status = "met" if profile.tax_credit in criteria.tax_credit else "failed"
        checks.append(Check("tax_credit", f"纳税信用{_or(criteria.tax_credit, '级')}", status))
    if criteria.good_credit:
        status = "unknown" if profile.good_credit is None else "met" if profile.good_credit else "failed"
        checks.append(Check("good_credit", "未列入严重失信名单和经营异常名录", status))
    for name in criteria.qualifications:
        status = "met" if name in profile.qualifications else "failed" if name in profile.lacks else "unknown"
        checks.append(Check("qualifications", f"是{name}", status))
    return checks


def match(policy: Policy, profile: Profile, today: datetime.date) -> Match:
    deadline = deadline_of(policy)
    return Match(policy, tuple(check_all(policy.criteria, profile)), expired=deadline is not None and deadline < today)


def score(m: Match) -> int:
    """How well the known facts fit: each criterion met counts +1, each unknown one -1, and an
    unknown qualification -2 (few businesses hold one, and one who does usually says so)."""
    unknown_qualifications = sum(1 for c in m.unknown if c.fact == "qualifications")
    return len(m.met) - len(m.unknown) - unknown_qualifications


def _order(m: Match) -> tuple[int, int, int, datetime.date, int, str]:
    return (
        -score(m),
        len(m.unknown),
        0 if m.policy.auto else 1,
        deadline_of(m.policy) or FAR_AWAY,
        LEVEL_ORDER[m.policy.level],
        m.policy.id,
    )


def rank(policies: Iterable[Policy], profile: Profile, today: datetime.date) -> Ranking:
    matches = [match(p, profile, today) for p in policies]
    candidates = sorted((m for m in matches if m.eligible), key=_order)
    excluded = sorted((m for m in matches if not m.eligible), key=lambda m: m.policy.id)
    return Ranking(tuple(candidates), tuple(excluded))


def missing_facts(candidates: Sequence[Match], limit: int = 2) -> list[str]:
    """The facts most worth asking for: unknown to the most candidates (ties in FACTS order)."""
    counts = {fact: 0 for fact in FACTS}
    for m in candidates:
        for fact in {c.fact for c in m.unknown}:
            counts[fact] += 1
    ranked = sorted((f for f in FACTS if counts[f] > 0), key=lambda f: (-counts[f], FACTS.index(f)))
    return ranked[:limit]


def named_in(text: str, policies: Iterable[Policy]) -> Policy | None:
    """The policy the text names by its title or one of its aliases (the longest name found)."""
    best: tuple[int, Policy] | None = None
    for policy in policies:
        for name in (policy.title, *policy.aliases):
            if len(name) >= 4 and name in text and (best is None or len(name) > best[0]):
                best = (len(name), policy)
    return best[1] if best else None
