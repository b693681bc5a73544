"""Every setting of the action server, read from the environment in one place.

| variable               | default | meaning                                                      |
|------------------------|---------|--------------------------------------------------------------|
| KB_DB, KB_BACKEND, …   |         | the knowledge base (see knowledge_base/settings.py)          |
| ACTIONS_MIN_COVERAGE   | 0.5     | confidence floor: share of the question's words an entry must contain |
| ACTIONS_MIN_SCORE      | 0       | confidence floor on the best hit's BM25 score                |
| ACTIONS_CONFIDENT_COVERAGE | 0.75 | a clear winner covering this much is answered without asking |
| ACTIONS_CLOSE_RATIO    | 0.9     | a runner-up scoring ≥ this share of the best makes a tie: ask |

Thresholds (measured with `python -m actions.calibrate --grid`; numbers below)
TODO
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from knowledge_base.settings import Settings as KnowledgeBaseSettings

from .matching import Thresholds

# Kinds a question about a service may be answered from (centres are found by place, not by topic).
ANSWER_KINDS = ("guide", "qa")
SEARCH_TOP_K = 5


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, not {raw!r}") from error


@dataclass(frozen=True)
class Settings:
    kb: KnowledgeBaseSettings
    thresholds: Thresholds

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            kb=KnowledgeBaseSettings.from_env(),
            thresholds=Thresholds(
                min_coverage=_float("ACTIONS_MIN_COVERAGE", 0.5),
                min_score=_float("ACTIONS_MIN_SCORE", 0.0),
                confident_coverage=_float("ACTIONS_CONFIDENT_COVERAGE", 0.75),
                close_ratio=_float("ACTIONS_CLOSE_RATIO", 0.9),
            ),
        )
