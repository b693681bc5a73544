"""Ranking metrics.  A question counts as found at rank r when the first of its expected entries
appears at position r (1-based) of the result list; Recall@k is then the share of questions found
within the top k (a hit rate: one correct entry is enough), MRR@k the mean of 1/r (0 beyond k)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def first_relevant_rank(ranking: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based position of the first expected id in `ranking`, None when none is there."""
    wanted = set(expected)
    for position, entry_id in enumerate(ranking, 1):
        if entry_id in wanted:
            return position
    return None


@dataclass(frozen=True)
class Scores:
    n: int
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float


def score(ranks: Sequence[int | None]) -> Scores:
    """Recall@1, Recall@3 and MRR@10 over the first-relevant ranks of a set of questions."""
    n = len(ranks)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    found = [r for r in ranks if r is not None]
    return Scores(
        n=n,
        recall_at_1=sum(r <= 1 for r in found) / n,
        recall_at_3=sum(r <= 3 for r in found) / n,
        mrr_at_10=sum(1.0 / r for r in found if r <= 10) / n,
    )


def score_by_group(ranks: Sequence[int | None], groups: Sequence[str]) -> dict[str, Scores]:
    """Scores per group label (e.g. per domain), groups in sorted order."""
    by_group: dict[str, list[int | None]] = defaultdict(list)
    for rank, group in zip(ranks, groups, strict=True):
        by_group[group].append(rank)
    return {group: score(by_group[group]) for group in sorted(by_group)}


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
