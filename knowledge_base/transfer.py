"""Import and export of entries: CSV, XLSX (Q&A rows) and YAML (any entry, data-file format).

CSV/XLSX columns: question, answer, similar_questions (separated by "|"), keywords ("|"),
department, category; optional: id, domain, guide.  A row without an id gets a stable one made
from its question, so importing the same sheet twice updates instead of duplicating.

Import is all-or-nothing: every bad row is reported (row number, column, reason) and nothing is
written unless every row is good.  `check_import` also lists duplicates and near-duplicates of the
file's entries in the store and within the file (knowledge_base/duplicates.py), before anything
is committed.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from .duplicates import Duplicate, find_duplicates
from .loader import KnowledgeBaseError, Problem, check_consistency, parse_document, validate_entry
from .models import QA, Entry, Guide

COLUMNS = ["id", "domain", "question", "answer", "similar_questions", "keywords", "department", "category", "guide"]
REQUIRED_COLUMNS = {"question", "answer", "similar_questions"}
LIST_SEPARATOR = "|"
# model field -> sheet column, to name the column a person must fix
FIELD_TO_COLUMN = {"similar": "similar_questions", "keywords": "keywords"}
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".yml": "yaml", ".yaml": "yaml"}


def file_format(path: Path) -> str:
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise KnowledgeBaseError(
            [Problem(path.name, "(file)", "(name)", "unsupported file type; use .csv, .xlsx, .yml or .yaml")]
        ) from None


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _stable_id(question: str) -> str:
    return "qa.imported." + hashlib.sha1(question.encode("utf-8")).hexdigest()[:12]


def _read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells by column name); the header is row 1."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames or [])
            for number, row in enumerate(reader, start=2):
                yield number, {k.strip(): (v or "").strip() for k, v in row.items() if k}
    else:
        from openpyxl import load_workbook  # only needed for spreadsheets

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = sheet.iter_rows(values_only=True)
        header = [str(c or "").strip() for c in next(rows, [])]
        _check_header(path, header)
        for number, values in enumerate(rows, start=2):
            cells = {h: ("" if v is None else str(v)).strip() for h, v in zip(header, values, strict=False) if h}
            if any(cells.values()):
                yield number, cells


def _check_header(path: Path, header: list[str]) -> None:
    missing = REQUIRED_COLUMNS - {h.strip() for h in header if h}
    if missing:
        raise KnowledgeBaseError(
            [Problem(path.name, "row 1", ", ".join(sorted(missing)), "required column missing from the header")]
        )


def _row_to_raw(cells: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": cells.get("id") or _stable_id(cells.get("question", "")),
        "domain": cells.get("domain") or "imported",
        "question": cells.get("question", ""),
        "answer": cells.get("answer", ""),
        "similar": _split(cells.get("similar_questions", "")),
        "keywords": _split(cells.get("keywords", "")),
    }
    for column in ("department", "category", "guide"):
        if cells.get(column):
            raw[column] = cells[column]
    return raw


def parse_import(path: Path, known_ids: set[str] | None = None) -> tuple[list[Entry], dict[str, str], list[Problem]]:
    """Parse and validate an import file: (entries, entry id -> "row N", every problem)."""
    fmt = file_format(path)
    positions: dict[str, str] = {}
    if fmt == "yaml":
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            return [], {}, [Problem(path.name, "(file)", "(syntax)", str(error).replace("\n", " "))]
        if isinstance(doc, list):  # a bare list of Q&A entries
            doc = {"sample_data": False, "domain": "imported", "qa": doc}
        entries, problems = parse_document(doc, path.name)
    else:
        entries, problems = [], []
        rows = list(_read_rows(path, fmt))
        for number, cells in tqdm(rows, desc=f"checking {path.name}", unit="row", disable=len(rows) < 500):
            entry, found = validate_entry(_row_to_raw(cells), "qa", path.name, f"row {number}")
            for p in found:  # name the row and the sheet column, not the model's field
                column = FIELD_TO_COLUMN.get(p.field.split(".")[0], p.field.split(".")[0])
                problems.append(Problem(p.source, f"row {number}", column, p.message))
            if entry is not None:
                entries.append(entry)
                positions.setdefault(entry.id, f"row {number}")
    source_of = {e.id: path.name for e in entries}
    problems += [p for p in check_consistency(entries, source_of) if p.field != "guide"]
    if known_ids is not None:  # links may point at guides already in the store
        ids = known_ids | {e.id for e in entries}
        problems += [
            Problem(path.name, positions.get(e.id, e.id), "guide", f"no guide with id {e.guide}")
            for e in entries
            if isinstance(e, QA) and e.guide and e.guide not in ids
        ]
    return entries, positions, problems


def read_import(path: Path, known_ids: set[str] | None = None) -> list[Entry]:
    """Parse and validate an import file; raise KnowledgeBaseError listing every bad row."""
    entries, _, problems = parse_import(path, known_ids)
    if problems:
        raise KnowledgeBaseError(problems)
    return entries


@dataclass
class ImportCheck:
    """What an import would do, before anything is written (the console and `import --check`)."""

    file: str
    entries: list[Entry]
    problems: list[Problem]
    duplicates: list[Duplicate]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "entries": len(self.entries),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "problems": [{"row": p.entry, "column": p.field, "reason": p.message} for p in self.problems],
            "duplicates": [d.to_dict() for d in self.duplicates],
        }


def check_import(path: Path, existing: Sequence[Entry]) -> ImportCheck:
    """Validate an import file and find duplicates against `existing` (the store) and within it."""
    known = {e.id for e in existing if isinstance(e, Guide)}
    entries, positions, problems = parse_import(path, known_ids=known)
    check = ImportCheck(path.name, entries, problems, find_duplicates(entries, existing, positions))
    stored = {e.id: e for e in existing}
    for entry in entries:
        before = stored.get(entry.id)
        target = check.added if before is None else check.unchanged if before == entry else check.updated
        target.append(entry.id)
    return check


def select(entries: Sequence[Entry], kind: str | None = None, domain: str | None = None) -> list[Entry]:
    """The entries of one kind and/or one domain (export of a filtered set)."""
    return [e for e in entries if (kind is None or e.kind == kind) and (domain is None or e.domain == domain)]


def write_export(entries: list[Entry], path: Path) -> int:
    """Write entries to `path`; CSV/XLSX hold Q&A entries only.  Returns how many were written."""
    fmt = file_format(path)
    if fmt == "yaml":
        doc: dict[str, Any] = {"sample_data": False, "domain": "export", "guides": [], "qa": [], "centers": []}
        section = {"guide": "guides", "qa": "qa", "center": "centers"}
        for entry in entries:
            doc[section[entry.kind]].append(entry.dict(exclude_none=True, exclude={"kind"}))
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return len(entries)
    rows = [
        {
            "id": e.id,
            "domain": e.domain,
            "question": e.question,
            "answer": e.answer,
            "similar_questions": LIST_SEPARATOR.join(e.similar),
            "keywords": LIST_SEPARATOR.join(e.keywords),
            "department": e.department or "",
            "category": e.category or "",
            "guide": e.guide or "",
        }
        for e in entries
        if isinstance(e, QA)
    ]
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(COLUMNS)
        for row in rows:
            sheet.append([row[c] for c in COLUMNS])
        book.save(path)
    return len(rows)
