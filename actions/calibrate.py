"""Try the answer/clarify/none thresholds on the knowledge base's own questions.

    python -m actions.calibrate [--negatives FILE.yml ...] [--grid]

Positives are held out: the data is loaded three times into scratch stores, each time without one
of every Q&A's similar questions and one of every guide's aliases, and exactly those held-out
wordings are asked (so an entry is never found by the very sentence that is being asked).
Negatives are citizens' sentences about something else entirely: by default the SMP2019 phone-
assistant corpus (weather, music, flights …) when it is present, plus a few government services
the sample knowledge base does not cover.  The report prints, for the thresholds in
actions/config.py (and with --grid for a range of them), how often the assistant would answer
correctly, answer wrongly, ask with the right entry among the choices, or say it has nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from knowledge_base import KnowledgeBase, SearchHit
from knowledge_base.loader import DATA_DIR, load_data_dir
from knowledge_base.models import QA, Entry, Guide
from knowledge_base.store import Store

from .config import ANSWER_KINDS, SEARCH_TOP_K, Settings
from .matching import Thresholds, judge, matter_of

DEFAULT_NEGATIVES = (Path("/work/shared/datasets/smp2019/train.yml"), Path("/work/shared/datasets/smp2019/test.yml"))
# Government services the sample data does not cover: asking about them must not produce an answer.
UNCOVERED_SERVICES = (
    "护照怎么办理",
    "港澳通行证续签",
    "办理签证需要什么",
    "狗证怎么办",
    "渔船登记",
    "采矿许可证申请",
    "烟草专卖零售许可证",
    "出版物经营许可",
    "枪支持有证",
    "游艇驾驶证",
)
FOLDS = 3
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Case:
    query: str
    expected: str | None  # entry id, None for a negative
    hits: tuple[SearchHit, ...]


def _without(entry: Entry, fold: int) -> tuple[Entry, str | None]:
    """The entry minus its fold-th citizen wording, and that wording (None if it has none)."""
    if isinstance(entry, QA) and len(entry.similar) > fold:
        held = entry.similar[fold]
        return entry.copy(update={"similar": [s for i, s in enumerate(entry.similar) if i != fold]}), held
    if isinstance(entry, Guide) and len(entry.aliases) > fold:
        held = entry.aliases[fold]
        return entry.copy(update={"aliases": [a for i, a in enumerate(entry.aliases) if i != fold]}), held
    return entry, None


async def positive_cases(entries: Sequence[Entry], workdir: Path) -> list[Case]:
    cases: list[Case] = []
    for fold in range(FOLDS):
        held_out: list[tuple[str, str]] = []
        reduced: list[Entry] = []
        for entry in entries:
            kept, held = _without(entry, fold)
            reduced.append(kept)
            if held:
                held_out.append((held, entry.id))
        kb = KnowledgeBase(Store(workdir / f"fold{fold}.sqlite3"))
        await kb.publish(reduced, author="calibrate")  # publish: the search backend indexes too
        for query, expected in held_out:
            hits = await kb.search(query, top_k=SEARCH_TOP_K, kinds=ANSWER_KINDS)
            cases.append(Case(query, expected, tuple(hits)))
        await kb.close()
    return cases


def read_negatives(paths: Iterable[Path]) -> list[str]:
    texts: list[str] = list(UNCOVERED_SERVICES)
    for path in paths:
        if not path.exists():
            print(f"(negatives file {path} not found: skipped)")
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = _ANNOTATION.sub(r"\1", line.lstrip("- ").strip())
                if text:
                    texts.append(text)
    return texts


async def negative_cases(texts: Sequence[str], workdir: Path, entries: Sequence[Entry]) -> list[Case]:
    kb = KnowledgeBase(Store(workdir / "full.sqlite3"))
    await kb.publish(list(entries), author="calibrate")
    cases = [Case(t, None, tuple(await kb.search(t, top_k=SEARCH_TOP_K, kinds=ANSWER_KINDS))) for t in texts]
    await kb.close()
    return cases


class Relatedness:
    """Two entries are about the same matter when they are the same entry, or a Q&A and the guide
    it belongs to, or two Q&As of the same guide: answering one for the other still helps."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.matters = {e.id: matter_of(e) for e in entries}

    def matter(self, entry_id: str) -> str:
        return self.matters.get(entry_id, entry_id)

    def __call__(self, got: str, expected: str) -> bool:
        return self.matter(got) == self.matter(expected)


def tally(cases: Sequence[Case], thresholds: Thresholds, related: Relatedness) -> Counter[str]:
    counts: Counter[str] = Counter()
    for case in cases:
        match = judge(case.hits, thresholds, related.matter)
        ids = [h.id for h in match.choices]
        if match.outcome == "none":
            counts["none"] += 1
        elif case.expected is None:
            counts[f"{match.outcome} (wrong)"] += 1
        elif match.outcome == "answer":
            if ids[0] == case.expected:
                counts["answer right"] += 1
            else:
                counts["answer related" if related(ids[0], case.expected) else "answer wrong"] += 1
        else:
            counts["clarify right" if any(related(i, case.expected) for i in ids) else "clarify wrong"] += 1
            if related(ids[0], case.expected):
                # A needless clarification: answering choice 1 would have been right.
                counts["of which 1st right"] += 1
    return counts


# What each outcome is worth to a citizen: a right answer helps, a clarifying question costs a
# click, a wrong answer misleads (worse than admitting there is nothing).
UTILITY = {
    "answer right": 1.0,
    "answer related": 0.8,
    "clarify right": 0.6,
    "clarify wrong": -0.3,
    "answer wrong": -2.0,
    "none": 0.0,
    "answer (wrong)": -2.0,
    "clarify (wrong)": -0.3,
}


def utility(pos: Counter[str], n_pos: int, neg: Counter[str], n_neg: int) -> float:
    """Mean utility over positives plus mean over negatives (each set weighs the same)."""
    return (
        sum(UTILITY.get(k, 0.0) * v for k, v in pos.items() if k in UTILITY) / n_pos
        + sum(UTILITY[k] * v for k, v in neg.items()) / n_neg
    )


def _pct(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%"


POSITIVE_KEYS = (
    "answer right",
    "answer related",
    "answer wrong",
    "clarify right",
    "of which 1st right",
    "clarify wrong",
    "none",
)
NEGATIVE_KEYS = ("answer (wrong)", "clarify (wrong)", "none")


def report(
    positives: Sequence[Case], negatives: Sequence[Case], grid: Sequence[Thresholds], related: Relatedness, show: int
) -> None:
    print(f"\npositives: {len(positives)} held-out wordings; negatives: {len(negatives)} unrelated sentences\n")
    top1 = sum(1 for c in positives if c.hits and c.hits[0].id == c.expected)
    top3 = sum(1 for c in positives if c.expected in [h.id for h in c.hits[:3]])
    print(f"search alone: top-1 {100 * top1 / len(positives):.1f}%, top-3 {100 * top3 / len(positives):.1f}%\n")
    n_pos, n_neg = len(positives), max(1, len(negatives))
    rows = []
    for i, t in enumerate(grid):
        pos, neg = tally(positives, t, related), tally(negatives, t, related)
        rows.append((i == 0, utility(pos, n_pos, neg, n_neg), t, pos, neg))
    chosen, others = rows[:1], sorted(rows[1:], key=lambda r: -r[1])[:show]
    header = "| | min_cov / min_score / confident_cov / close_ratio | utility | "
    print(header + " | ".join(POSITIVE_KEYS) + " | negatives: " + " | ".join(NEGATIVE_KEYS) + " |")
    print("|" + "---|" * (3 + len(POSITIVE_KEYS) + len(NEGATIVE_KEYS)))
    for is_chosen, score, t, pos, neg in chosen + others:
        label = f"{t.min_coverage:.2f} / {t.min_score:.1f} / {t.confident_coverage:.2f} / {t.close_ratio:.2f}"
        cells = [_pct(pos[k], n_pos) for k in POSITIVE_KEYS] + [_pct(neg[k], n_neg) for k in NEGATIVE_KEYS]
        print(f"| {'chosen' if is_chosen else ''} | {label} | {score:.3f} | " + " | ".join(cells) + " |")


def make_grid(base: Thresholds) -> list[Thresholds]:
    grid = [base]
    for min_cov in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7):
        for min_score in (0.0, 6.0, 9.0, 12.0):
            for conf in (0.6, 0.75, 0.8, 0.9, 1.0):
                for ratio in (0.7, 0.8, 0.85, 0.9, 0.95, 0.98):
                    grid.append(
                        replace(
                            base, min_coverage=min_cov, min_score=min_score, confident_coverage=conf, close_ratio=ratio
                        )
                    )
    return grid


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actions.calibrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="curated data files (default: the shipped ones)"
    )
    parser.add_argument(
        "--negatives",
        type=Path,
        nargs="*",
        default=list(DEFAULT_NEGATIVES),
        help="Rasa NLU YAML files whose examples are all out of scope",
    )
    parser.add_argument("--grid", action="store_true", help="also try a grid of thresholds around the chosen ones")
    parser.add_argument("--show", type=int, default=15, metavar="N", help="with --grid: the N best settings")
    args = parser.parse_args(argv)
    entries = load_data_dir(args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        positives = await positive_cases(entries, Path(tmp))
        negatives = await negative_cases(read_negatives(args.negatives), Path(tmp), entries)
    chosen = Settings.from_env().thresholds
    grid = make_grid(chosen) if args.grid else [chosen]
    report(positives, negatives, grid, Relatedness(entries), args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
