"""Every setting of the action server, read from the environment in one place.

| variable                   | default | meaning                                              |
|----------------------------|---------|------------------------------------------------------|
| KB_DB, KB_BACKEND, …       |         | the knowledge base (see knowledge_base/settings.py)  |
| ACTIONS_MIN_COVERAGE       | 0.4     | floor: share of the question's terms in the entry    |
| ACTIONS_MIN_SCORE          | 6.0     | floor: score of the best hit (BM25F scale)           |
| ACTIONS_CONFIDENT_COVERAGE | 0.6     | a clear winner this complete is answered directly    |
| ACTIONS_CLOSE_RATIO        | 0.8     | a runner-up (other matter) ≥ this share of the best score is a tie |

Re-run after the dense recall was added (the 20 entries nearest by vector join the lexical top 30,
search/dense.py), 2026-12-07, `python -m actions.calibrate --grid`, same sets (1,038 held-out
wordings, 2,553 unrelated sentences; load average 6-8): the search alone now ranks the held-out
wording first 65.9% of the time (top 3: 92.4%), and the values in use are still the grid's best:

| cov/score/conf./ratio | utility | answer right, rel., wrong | ask right (1st right), wrong | none | neg. answer, ask |
|---|---|---|---|---|---|
| 0.4 / 6 / 0.6 / 0.8 (kept)  | 0.672 | 46.2%, 19.7%, 1.8% | 24.9% (17.4%), 2.4% | 5.0% | 2.2%, 3.2% |
| 0.4 / 9 / 0.6 / 0.8         | 0.663 | 45.1%, 19.3%, 1.6% | 22.6% (16.2%), 2.3% | 9.1% | 1.7%, 1.6% |
| 0.4 / 6 / 0.75 / 0.8        | 0.660 | 36.7%, 19.2%, 1.3% | 35.1% (27.5%), 2.8% | 5.0% | 1.3%, 4.1% |

The recall answers more unrelated sentences than before (2.2% against 1.2%), as it finds a nearest
entry for any sentence; a score floor of 9 would cut that to 1.7% for 4 points more "nothing" on
real questions and a lower utility, so the floor stays.

Fewer needless clarifications, 2026-12-04 (issue #11): conversations showed "您想问的是…?" where
choice 1 was plainly right.  `python -m actions.calibrate --grid` now also counts clarifications
whose first choice is right (a guess would have been right, so the question was needless).  Same
calibration sets (load average ~10 while measuring; the numbers do not depend on it):

| cov/score/conf./ratio | utility | answer right, rel., wrong | ask right (1st right), wrong | none | neg. answer, ask |
|---|---|---|---|---|---|
| 0.4 / 6 / 0.6 / 0.8 (chosen now) | 0.652 | 38.8%, 13.3%, 1.4% | 38.9% (30.9%), 2.6% | 4.9% | 1.2%, 5.4% |
| 0.4 / 6 / 0.75 / 0.8 (before)    | 0.639 | 30.8%, 9.0%, 0.8%  | 51.3% (43.3%), 3.2% | 4.9% | 0.2%, 6.4% |

With 0.75, 84% of the clarifications had the right entry first.  0.6 is the grid's best by the
utility and cuts needless clarifications from 43.3% to 30.9% of the questions, for +0.6 points of
wrong answers on questions and +1.0 point of answered unrelated sentences.  That last cost is
smaller in conversation than here, where every negative is searched: of 300 random SMP2019 test
sentences, the NLU sent 63 (21%) to an intent that searches (ask_service, ask_element,
start_walkthrough, nlu_fallback; 171 were out_of_scope), and mash, other languages and doubtful
small talk never reach the search (actions/ood.py, actions/router.py).  A rule answering a
rival-less winner when every other matter scores ≤ 0.3–0.6 of it was tried as well: utility 0.635
at best, 2.4% unrelated sentences answered; not kept.

Recalibrated for the dense stage (search/dense.py, on by default), 2026-11-26: a hit's score is
now the hybrid of BM25F and sentence similarity, on the BM25F scale of the best lexical hit, and
runner-ups sit further below the best than with BM25F alone, so the tie ratio rose.  Same
calibration sets and values as below; with the dense stage the search alone ranks the held-out
wording first 65.4% of the time (top 3: 91.2%; BM25F alone: 50.4% / 77.1%):

| cov/score/conf./ratio (dense on) | utility | answer right, rel., wrong | ask right, wrong | none | neg. answer, ask |
|---|---|---|---|---|---|
| 0.4 / 6 / 0.75 / 0.8 (chosen)  | 0.640 | 30.7%, 8.8%, 0.8%   | 51.8%, 3.1% | 4.8% | 0.2%, 6.3% |
| 0.4 / 6 / 0.6 / 0.8 (grid best) | 0.652 | 38.7%, 13.1%, 1.4% | 39.3%, 2.6% | 4.8% | 1.2%, 5.4% |
| 0.5 / 6 / 0.8 / 0.7 (previous values) | 0.577 | 19.1%, 6.4%, 0.5%   | 62.4%, 3.1% | 8.6% | 0.2%, 5.6% |

The grid's best answers six times as many unrelated sentences (1.2%); the chosen row keeps that at
the previous 0.2%.  With KB_DENSE=false the previous values (0.5 / 6 / 0.8 / 0.7) fit better; set
them through the variables.  The history below is the BM25F-only calibration.

Below either floor a hit is never used (no answer, no choice).  A tie or a winner covering less
than ACTIONS_CONFIDENT_COVERAGE of the question gets "您想问的是…?" with at most 3 choices.

How the values were chosen (`python -m actions.calibrate --grid`, curated data of 2026-11-26):
positives are 1,038 citizen wordings held out of the index (each Q&A's similar questions and
each guide's aliases, one third at a time), negatives are 2,553 sentences about other things (the
SMP2019 phone-assistant corpus plus services the KB does not cover).  Each outcome has a value
(right answer +1, answer about the same matter +0.8, right entry among the choices +0.6, wrong
choices −0.3, wrong answer −2, nothing 0) and the grid's best mean value won:

| cov / score / confident / ratio | answer right, related, wrong | clarify right, wrong | none | negatives: answer, ask|
|---|---|---|---|---|
| 0.5 / 6 / 0.8 / 0.7 (chosen)    | 14.6%, 12.7%, 1.6%           | 55.7%, 8.4%          | 6.9% | 0.2%, 9.5%  |
| 0.5 / 6 / 0.8 / 0.8             | 17.5%, 15.4%, 2.6%           | 49.1%, 8.4%          | 6.9% | 0.2%, 9.5%  |
| 0.5 / 0 / 0.75 / 0.9 (guess)    | 24.2%, 19.7%, 5.6%           | 36.6%, 7.8%          | 6.1% | 0.3%, 12.4% |

Why: BM25 alone ranks the held-out wording first only 43% of the time (top 3: 71%), because the
catalogue has many near-duplicate Q&As; asking is cheap and a wrong answer is not.  The score floor
(6.0) drops one-word generic matches ("能办", "办好": scores 3-6) that the coverage floor cannot,
and cuts the negatives that get choices from 12% to 9.5%.  The coverage floor 0.5 sits at the
negatives' 90th percentile of coverage.  Ties between a Q&A and its own guide are not ties (same
matter), see actions/matching.py.  In conversation the NLU's service entity and the service in
context settle many questions before search is needed, so real clarification rates are lower.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from knowledge_base.settings import Settings as KnowledgeBaseSettings

from .matching import Thresholds

# Kinds a question about a service may be answered from (centres are found by place, not by topic).
ANSWER_KINDS = ("guide", "bundle", "qa")  # a 一件事 bundle is answered like a guide
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
                min_coverage=_float("ACTIONS_MIN_COVERAGE", 0.4),
                min_score=_float("ACTIONS_MIN_SCORE", 6.0),
                confident_coverage=_float("ACTIONS_CONFIDENT_COVERAGE", 0.6),
                close_ratio=_float("ACTIONS_CLOSE_RATIO", 0.8),
            ),
        )
