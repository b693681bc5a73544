"""Deciding what to do with a list of search hits: answer, ask which one was meant, or admit that
the knowledge base has nothing.  Pure functions over `SearchHit`s, so the thresholds can be tried
offline on the knowledge base's own questions (`python -m actions.calibrate`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from knowledge_base import SearchHit
from knowledge_base.models import QA, Entry

Outcome = Literal["answer", "clarify", "none"]


@dataclass(frozen=True)
class Thresholds:
    """See actions/config.py for the chosen values and the measurements behind them."""

    min_coverage: float  # confidence floor: below it the best hit is never used
    min_score: float  # confidence floor on the BM25 score of the best hit
    confident_coverage: float  # at or above it a clear winner is answered without asking
    close_ratio: float  # a runner-up scoring at least this share of the best makes it a tie
    max_choices: int = 3  # choices offered in a clarifying question


@dataclass(frozen=True)
class Match:
    outcome: Outcome
    choices: tuple[SearchHit, ...]  # answer: the one hit; clarify: 2..max_choices hits; none: ()
    near: tuple[SearchHit, ...] = ()  # every hit scoring within close_ratio of the best (any matter)
    ranked: tuple[SearchHit, ...] = ()  # every hit searched, best first

    @property
    def best(self) -> SearchHit | None:
        return self.choices[0] if self.choices else None


NO_MATCH = Match("none", ())


def usable(hit: SearchHit, thresholds: Thresholds) -> bool:
    return hit.coverage >= thresholds.min_coverage and hit.score >= thresholds.min_score


def judge(
    hits: Sequence[SearchHit],
    thresholds: Thresholds,
    matter: Callable[[str], str] = lambda entry_id: entry_id,
    bundles_of: Callable[[str], frozenset[str]] = lambda matter_id: frozenset(),
) -> Match:
    """Answer a clear winner, ask about close ones, and say nothing below the floor.

    `matter` maps an entry id to the matter it is about (a Q&A to its guide): a runner-up about
    the same matter as the best hit is no rival, answering either helps the citizen.  Nor is a
    一件事 that the best hit's matter belongs to (`bundles_of`: matter id → ids of the bundles
    naming it): "结婚登记要带啥" finds 婚育一件事 close behind 结婚登记, and the citizen asked for
    the single matter; the answer then points out the bundle (actions/bundle_hints.py)."""
    if not hits or not usable(hits[0], thresholds):
        return NO_MATCH
    best = hits[0]
    ranked = tuple(hits)
    near = tuple(h for h in hits if h.score >= best.score * thresholds.close_ratio)
    # A rival need not clear the score floor itself: a best hit barely above the floor with
    # another matter just below it ("贷款": 创业担保贷款 6.1, 公积金贷款 5.0) is no clear winner.
    own_bundles = bundles_of(matter(best.id))

    def rival(h: SearchHit) -> bool:  # about another matter, and not a bundle the best's matter is in
        return h.coverage >= thresholds.min_coverage and matter(h.id) != matter(best.id) and h.id not in own_bundles

    rivals = [h for h in near[1:] if rival(h)]
    if rivals and best.coverage >= thresholds.confident_coverage and _corroborated(hits, rivals[0], thresholds, matter):
        rivals = []
    if not rivals and best.coverage >= thresholds.confident_coverage:
        return Match("answer", (best,), near, ranked)
    others = [h for h in hits[1:] if rival(h)]
    same = [h for h in hits if matter(h.id) == matter(best.id)]
    if not rivals and not others and len(same) >= 2:
        # One matter, found by several of its entries, and no other matter anywhere near the
        # question: asking "您想问的是《…》吗?" would only repeat it (the words it does not cover
        # are the citizen's story: "对了俺爹快八十了 高龄津贴咋领").  Covering so little, the
        # question is answered by the matter's own entry (its guide) when it was found.
        own = next((h for h in same if h.id == matter(best.id)), best)
        return Match("answer", (own,), near, ranked)
    if not rivals:
        # A lone hit that covers too little of the question: ask rather than assume.
        usable_others = [h for h in others if usable(h, thresholds)]
        return Match("clarify", (best, *usable_others[: thresholds.max_choices - 1]), near, ranked)
    # Only hits above both floors are offered as choices.
    offered = [h for h in rivals if usable(h, thresholds)]
    return Match("clarify", (best, *offered[: thresholds.max_choices - 1]), near, ranked)


_NOT_WORDS = re.compile(r"[\s\W_]+")


def asked_verbatim(hits: Sequence[SearchHit], question: str) -> SearchHit | None:
    """The one hit whose title is the question itself, spaces and punctuation aside: the citizen
    asked that very entry ("社保 转移 转出 所需材料" in an imported export, whose sibling entries
    under one matter score almost alike).  None when no hit or several are titled so."""
    asked = _NOT_WORDS.sub("", question).lower()
    same = [h for h in hits if asked and _NOT_WORDS.sub("", h.title).lower() == asked]
    return same[0] if len(same) == 1 else None


def settled(
    match: Match,
    other: Sequence[SearchHit],
    thresholds: Thresholds,
    matter: Callable[[str], str] = lambda entry_id: entry_id,
) -> Match | None:
    """A clarification between close choices, settled by another reading of the same message
    (its asking clause alone, or the whole story around it): when that search puts one of the
    choices' matters first, usable and with no other choice's matter within the tie ratio of it,
    that choice is answered.  Both readings must agree, so a story word alone cannot pick a
    matter the question did not already offer ("…买了套房子…提取公积金要准备哪些材料": 购房, not
    租房; "俺在曲堤开了个小超市 个体执照咋办": 设立, not 注销).  None when nothing is settled."""
    # The other reading only orders choices the question already offered: a story's many words
    # cover little of any entry, so only the score floor applies to it.
    if match.outcome != "clarify" or not other or other[0].score < thresholds.min_score:
        return None
    offered = {matter(h.id): h for h in match.choices}
    winner = matter(other[0].id)
    if winner not in offered:
        return None
    floor = other[0].score * thresholds.close_ratio
    if any(matter(h.id) in offered and matter(h.id) != winner and h.score >= floor for h in other[1:]):
        return None
    return Match("answer", (offered[winner],), match.near, match.ranked)


def ranked_choice(
    choices: Sequence[str],
    hits: Sequence[SearchHit],
    thresholds: Thresholds,
    matter: Callable[[str], str] = lambda entry_id: entry_id,
) -> int | None:
    """The index of the offered choice whose matter the search puts first, above the score floor
    and with no other choice's matter within the tie ratio of it; None otherwise (also when the
    first hit is about something not offered: a new question)."""
    if not hits or hits[0].score < thresholds.min_score:
        return None
    offered = [matter(c) for c in choices]
    winner = matter(hits[0].id)
    if winner not in offered:
        return None
    floor = hits[0].score * thresholds.close_ratio
    if any(matter(h.id) in offered and matter(h.id) != winner and h.score >= floor for h in hits[1:]):
        return None
    return offered.index(winner)


def _corroborated(
    hits: Sequence[SearchHit], rival: SearchHit, thresholds: Thresholds, matter: Callable[[str], str]
) -> bool:
    """At least two usable entries about the best hit's matter (its guide and Q&As) rank above
    the nearest rival: "居住证咋办" finds 居住证申领 and three Q&As about it before 居住情况证明."""
    wanted = matter(hits[0].id)
    above = [h for h in hits if h.score > rival.score and matter(h.id) == wanted and usable(h, thresholds)]
    return len(above) >= 2


def matter_of(entry: Entry) -> str:
    """The id of the matter an entry is about: a Q&A's guide when it names one, else itself."""
    if isinstance(entry, QA) and entry.guide:
        return entry.guide
    return entry.id
