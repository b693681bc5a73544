"""An export-shaped Q&A file (SAMPLE, generated here): what a district's own library looks like
when it is exported from its old system, for the import benchmark and the import tests.

Rows: the 2,080 entries of bench/retrieval's export-shaped corpus (staff-keyword titles, long
official answers of 290–760 characters, no similar questions), then REPEATED of their questions
again further down with another answer (a later edit exported twice) and EMPTY rows whose answer
is empty (a question never answered).  Two columns under the Chinese names a real export uses.
Deterministic: the same file on every machine.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.retrieval.export_corpus import build_export_corpus
from knowledge_base.models import QA

REPEATED = 25
EMPTY = 15
HEADER = ["问题", "答案"]


def corpus() -> list[QA]:
    return build_export_corpus()


def export_rows() -> list[list[str]]:
    """[question, answer] rows: every corpus entry, the repeats and the empty answers mixed in."""
    entries = corpus()
    rows = [[e.question, e.answer] for e in entries]
    for i in range(REPEATED):  # the same question again, answered in an older wording
        source = entries[i * 80]
        rows.insert(100 + i * 75, [source.question, f"（旧版答复）{source.answer[:120]}"])
    for i in range(EMPTY):
        rows.insert(40 + i * 130, [f"（待补充）第{i + 1}个未答复的问题怎么办理", ""])
    return rows


def write_csv(path: Path, rows: list[list[str]] | None = None) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(export_rows() if rows is None else rows)
    return path
