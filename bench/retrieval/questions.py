"""The labelled question sets: loading and checking them against the curated data."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).parent
TEST_SET = HERE / "questions.yml"
DEV_SET = HERE / "dev_questions.yml"
SETS = {"test": TEST_SET, "dev": DEV_SET}
# The export-shaped corpus (export_corpus.py) has its own sets, named so in the report.
EXPORT_DIR = HERE / "export"
EXPORT_SETS = {"export-test": EXPORT_DIR / "questions.yml", "export-dev": EXPORT_DIR / "dev_questions.yml"}


@dataclass(frozen=True)
class Question:
    q: str
    expected: tuple[str, ...]  # every correct entry id; the first is the main one
    domain: str  # domain of the main expected entry


class QuestionFileError(ValueError):
    pass


def load_questions(path: Path) -> list[Question]:
    """Parse one question file; raises QuestionFileError naming the item that is malformed."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise QuestionFileError(f"{path.name}: expected a non-empty 'questions:' list")
    out = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) != {"q", "expected", "domain"}:
            raise QuestionFileError(f"{path.name} #{number}: needs exactly the keys q, expected, domain")
        expected = item["expected"]
        if not isinstance(expected, list) or not expected or not all(isinstance(e, str) for e in expected):
            raise QuestionFileError(f"{path.name} #{number}: expected must be a non-empty list of entry ids")
        if not str(item["q"]).strip():
            raise QuestionFileError(f"{path.name} #{number}: blank question")
        out.append(Question(str(item["q"]).strip(), tuple(expected), str(item["domain"])))
    return out


def normalise(text: str) -> str:
    """Text without punctuation, spaces or case: what counts as "the same question"."""
    return re.sub(r"[\W_]+", "", text.lower())


def label_problems(questions: Sequence[Question], domains: Mapping[str, str]) -> list[str]:
    """Labels that do not fit the data: unknown ids, wrong domain, repeated ids or questions.

    `domains` maps every entry id of the data to its domain."""
    problems = []
    seen: set[str] = set()
    for question in questions:
        unknown = [e for e in question.expected if e not in domains]
        if unknown:
            problems.append(f"{question.q}: unknown ids {unknown}")
        elif domains[question.expected[0]] != question.domain:
            problems.append(
                f"{question.q}: domain {question.domain} but {question.expected[0]} is in "
                f"{domains[question.expected[0]]}"
            )
        if len(set(question.expected)) != len(question.expected):
            problems.append(f"{question.q}: an id is listed twice")
        key = normalise(question.q)
        if key in seen:
            problems.append(f"{question.q}: duplicate question")
        seen.add(key)
    return problems
