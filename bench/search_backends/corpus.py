"""Synthetic corpora of 1k-100k entries, made from the curated entries by recombining their fields.

The curated data holds a few hundred entries; a district with every matter, its Q&As and years of
additions holds tens of thousands.  To measure at that size with realistic text, each synthetic
entry takes the shape of a curated one of the same kind and fills its fields from several other
curated entries, picked at random (seeded, so every run builds the same corpus):

* Q&A: the question is one citizen wording (`similar`) of Q&A A; the similar wordings come from B,
  C and D; the answer joins the first sentences of E's answer with the last one of F's; keywords
  and category come from G; the domain is A's.
* guide: guide A with the title and aliases of B, the summary of C, the conditions of D, the
  materials of E, the process of F, the FAQ of G and the keywords of H; the domain is B's.

Vocabulary, field lengths and term statistics therefore stay those of real government-service
text, while no two entries are alike.  Service centres are not synthesised (a district has a
handful).  Kinds keep the curated proportion of guides to Q&As.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from knowledge_base.models import QA, Entry, Guide

SEED = 20240601
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _qa(number: int, qas: Sequence[QA], rng: random.Random) -> QA:
    a, b, c, d, e, f, g = (rng.choice(qas) for _ in range(7))
    answer = "".join(_sentences(e.answer)[:2] + _sentences(f.answer)[-1:]) or e.answer
    return QA(
        id=f"qa.synth-{number:06d}",
        domain=a.domain,
        question=rng.choice(a.similar),
        similar=[rng.choice(x.similar) for x in (b, c, d)],
        answer=answer,
        keywords=list(g.keywords),
        category=g.category,
    )


def _guide(number: int, guides: Sequence[Guide], rng: random.Random) -> Guide:
    a, b, c, d, e, f, g, h = (rng.choice(guides) for _ in range(8))
    return a.copy(
        update={
            "id": f"guide.synth-{number:06d}",
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


def synthetic_corpus(curated: Sequence[Entry], size: int, seed: int = SEED) -> list[Entry]:
    """The curated entries plus recombined ones, `size` entries in all (the same for a seed)."""
    entries = list(curated)[:size]
    guides = [e for e in curated if isinstance(e, Guide)]
    qas = [e for e in curated if isinstance(e, QA)]
    guide_share = len(guides) / max(1, len(guides) + len(qas))
    rng = random.Random(seed)
    for number in range(1, size - len(entries) + 1):
        if rng.random() < guide_share:
            entries.append(_guide(number, guides, rng))
        else:
            entries.append(_qa(number, qas, rng))
    return entries


def kinds(entries: Sequence[Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in entries:
        out[entry.kind] = out.get(entry.kind, 0) + 1
    return out
