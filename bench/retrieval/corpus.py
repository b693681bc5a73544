"""Larger corpora for the latency benchmark, made from the curated entries by recombination.

Each synthetic entry copies the shape of a real one and mixes fields of several different real
entries of the same kind, under a fresh id (`guide.synth-00001`, `qa.synth-00001`):

* Q&A: question = one citizen wording (`similar`) of entry A; similar = wordings of B, C and D;
  answer = sentences of E's and F's answers; keywords of G; domain of A.
* guide: the structure of A with the title and aliases of B, the summary of C, conditions of D,
  materials of E, process of F, FAQ of G and keywords of H; domain of B.

So vocabulary, field lengths and term statistics stay those of real government-service text,
while no two entries are the same.  Kinds keep the curated proportion (centres are not
synthesised: a district has a handful).  A seeded generator makes the corpus identical per run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from knowledge_base.models import ENTRY_TYPES, QA, Entry, Guide

_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _synthetic_qa(number: int, qas: Sequence[QA], rng: random.Random) -> QA:
    a, b, c, d, e, f, g = rng.sample(list(qas), 7)
    answer_parts = _sentences(e.answer)[:2] + _sentences(f.answer)[-1:]
    return QA(
        id=f"qa.synth-{number:05d}",
        domain=a.domain,
        question=rng.choice(a.similar),
        similar=[rng.choice(x.similar) for x in (b, c, d)],
        answer="".join(answer_parts) or e.answer,
        guide=None,
        keywords=list(g.keywords),
        department=a.department,
        category=a.category,
    )


def _synthetic_guide(number: int, guides: Sequence[Guide], rng: random.Random) -> Guide:
    a, b, c, d, e, f, g, h = (rng.choice(guides) for _ in range(8))
    return a.copy(
        update={
            "id": f"guide.synth-{number:05d}",
            "domain": b.domain,
            "title": b.title,
            "aliases": list(b.aliases),
            "summary": c.summary,
            "conditions": list(d.conditions),
            "materials": list(e.materials),
            "process": list(f.process),
            "faq": list(g.faq),
            "keywords": list(h.keywords),
        }
    )


def grow(curated: Sequence[Entry], size: int, seed: int = 20240601) -> list[Entry]:
    """The curated entries plus synthetic ones up to `size` entries in all (deterministic)."""
    entries = list(curated)
    missing = size - len(entries)
    if missing <= 0:
        return entries[:size]
    guides = [e for e in curated if isinstance(e, Guide)]
    qas = [e for e in curated if isinstance(e, QA)]
    guide_share = len(guides) / max(1, len(guides) + len(qas))
    rng = random.Random(seed)
    for number in range(1, missing + 1):
        if rng.random() < guide_share:
            entries.append(_synthetic_guide(number, guides, rng))
        else:
            entries.append(_synthetic_qa(number, qas, rng))
    return entries


def describe(entries: Sequence[Entry]) -> dict[str, int]:
    """Entries per kind, for the report."""
    kinds = dict.fromkeys(ENTRY_TYPES, 0)
    for entry in entries:
        kinds[entry.kind] += 1  # a 一件事 bundle is its own kind
    return kinds
