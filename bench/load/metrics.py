"""The arithmetic of the report, kept pure so tests can check it without a stack."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cpu_ms_per_turn(before: Mapping[str, float], after: Mapping[str, float], turns: int) -> dict[str, float]:
    """CPU milliseconds each process spent per turn: (user+system seconds after − before) / turns."""
    if turns <= 0:
        return {role: math.nan for role in after}
    return {role: (after[role] - before.get(role, 0.0)) * 1000 / turns for role in after}


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean, in milliseconds, of latencies given in seconds."""
    millis = [value * 1000 for value in latencies]
    return {
        "p50_ms": percentile(millis, 50),
        "p95_ms": percentile(millis, 95),
        "p99_ms": percentile(millis, 99),
        "mean_ms": sum(millis) / len(millis) if millis else math.nan,
    }


def head_of_line_delay(baseline: Sequence[float], during: Sequence[float]) -> float:
    """What the long message adds to the others' replies: median latency while it is in flight
    minus the median without it (seconds in, milliseconds out)."""
    return (percentile(during, 50) - percentile(baseline, 50)) * 1000


LENGTH_BUCKETS = ((1, 20), (21, 135), (136, 330), (331, 999), (1_000, 4_000))


def by_length(turns: Sequence[tuple[int, float]]) -> dict[str, dict[str, float]]:
    """Latency by message length: (characters, seconds) pairs -> {"21–135": {turns, p50_ms, p95_ms}}."""
    found = {}
    for low, high in LENGTH_BUCKETS:
        chosen = [latency for chars, latency in turns if low <= chars <= high]
        if chosen:
            summary = latency_summary(chosen)
            found[f"{low}–{high}"] = {"turns": len(chosen), "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"]}
    return found
