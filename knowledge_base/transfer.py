"""Import and export of entries: CSV, XLSX (Q&A rows) and YAML (any entry, data-file format).

CSV/XLSX columns: question, answer (both required); optional similar_questions (separated by "|"),
keywords ("|"), department, category, id, domain, guide.  The header may also use the Chinese names
of TEMPLATE_LABELS (标准问题, 答案, 相似问法, …), as a district's own export does.  A row without an
id gets a stable one made from its question, so importing the same sheet twice updates instead of
duplicating.

A real export is taken as it is: a row with an empty answer is skipped and reported (`skipped`), a
question asked in several rows is reported (`repeats`) and resolved by the chosen policy — keep the
first row, keep the last, or merge their answers (the merged entries are listed for review).
Problems are reported in Chinese with the column's Chinese name (`PROBLEM_TEXTS`).

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
from .models import QA, Entry

COLUMNS = ["id", "domain", "question", "answer", "similar_questions", "keywords", "department", "category", "guide"]
REQUIRED_COLUMNS = {"question", "answer"}
# column -> its Chinese name (the template's header, and how problems name a column)
TEMPLATE_LABELS = {
    "question": "标准问题",
    "answer": "答案",
    "similar_questions": "相似问法",
    "keywords": "关键词",
    "department": "部门",
    "category": "分类",
    "id": "编号",
    "domain": "领域",
    "guide": "关联指南",
}
HEADER_ALIASES = {
    **{label: column for column, label in TEMPLATE_LABELS.items()},
    "问题": "question",
    "标准问": "question",
    "回答": "answer",
    "相似问题": "similar_questions",
    "实施机构": "department",
}
REPEAT_POLICIES = ("first", "last", "merge")
MERGE_SEPARATOR = "——（另一版本的答案）——"  # the model folds line breaks, so a visible marker
# validation messages (pydantic's English, ours) -> what a person reads; matched by prefix
PROBLEM_TEXTS = {
    "field required": "必填，不能为空",
    "none is not an allowed value": "必填，不能为空",
    "ensure this value has at least": "内容太少",
    "ensure this value has at most": "内容太长",
    "give at least 3 similar questions, or none": "相似问法要么不填，要么至少写 3 条（用 | 分隔）",
    "str type expected": "应为文字",
    "value is not a valid list": "应为用 | 分隔的多条文字",
    "no guide with id": "找不到这个关联指南",
    "required column missing from the header": "表头缺少这一列",
    "duplicate id": "编号重复",
}
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


def _column(name: str) -> str:
    name = name.strip()
    return HEADER_ALIASES.get(name, name)


def column_label(column: str) -> str:
    return TEMPLATE_LABELS.get(column, column)


def chinese(message: str) -> str:
    """A validation message in Chinese (unknown ones keep their text after a Chinese lead-in)."""
    for prefix, text in PROBLEM_TEXTS.items():
        if message.startswith(prefix):
            return text
    return message if any("\u4e00" <= ch <= "\u9fff" for ch in message) else f"格式不对（{message}）"


def _read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells by column name); the header is row 1."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [_column(h) for h in next(reader, [])]
            _check_header(path, header)
            for number, values in enumerate(reader, start=2):
                cells = {h: (v or "").strip() for h, v in zip(header, values, strict=False) if h}
                if any(cells.values()):
                    yield number, cells
    else:
        from openpyxl import load_workbook  # only needed for spreadsheets

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = sheet.iter_rows(values_only=True)
        header = [_column(str(c or "")) for c in next(rows, [])]
        _check_header(path, header)
        for number, values in enumerate(rows, start=2):
            cells = {h: ("" if v is None else str(v)).strip() for h, v in zip(header, values, strict=False) if h}
            if any(cells.values()):
                yield number, cells


def _check_header(path: Path, header: list[str]) -> None:
    missing = REQUIRED_COLUMNS - {h.strip() for h in header if h}
    if missing:
        raise KnowledgeBaseError(
            [
                Problem(
                    path.name,
                    "row 1",
                    ", ".join(sorted(missing)),
                    "required column missing from the header: " + "、".join(column_label(m) for m in sorted(missing)),
                )
            ]
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


@dataclass
class RowNotes:
    """What a sheet's rows needed besides validation: skipped empty answers, repeated questions."""

    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"row", "question"}
    repeats: list[dict[str, Any]] = field(default_factory=list)  # {"question", "rows", "kept"}
    merged: list[str] = field(default_factory=list)  # entry ids whose answers were merged: review them


def _resolve_repeats(
    rows: list[tuple[int, dict[str, str]]], policy: str, notes: RowNotes
) -> list[tuple[int, dict[str, str], bool]]:
    """One row per question (normalised as duplicates.normalise does): (row, cells, merged?)."""
    from .duplicates import normalise

    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, cells in rows:
        groups.setdefault(normalise(cells.get("question", "")) or f"#{number}", []).append((number, cells))
    chosen = []
    for group in groups.values():
        if len(group) == 1:
            chosen.append((*group[0], False))
            continue
        numbers = [n for n, _ in group]
        if policy == "last":
            number, cells = group[-1]
        elif policy == "merge":
            number, cells = group[0]
            answers = list(dict.fromkeys(c["answer"] for _, c in group))
            cells = {**cells, "answer": MERGE_SEPARATOR.join(answers)}
        else:
            number, cells = group[0]
        notes.repeats.append({"question": group[0][1].get("question", ""), "rows": numbers, "kept": number})
        chosen.append((number, cells, policy == "merge"))
    return sorted(chosen, key=lambda item: item[0])


def parse_import(
    path: Path, known_ids: set[str] | None = None, repeats: str = "first", notes: RowNotes | None = None
) -> tuple[list[Entry], dict[str, str], list[Problem]]:
    """Parse and validate an import file: (entries, entry id -> "row N", every problem).  Empty answers
    and repeated questions are noted in `notes` (see RowNotes), not counted as problems."""
    if repeats not in REPEAT_POLICIES:
        raise ValueError(f"repeats must be one of {REPEAT_POLICIES}")
    notes = notes if notes is not None else RowNotes()
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
        rows = []
        for number, cells in _read_rows(path, fmt):
            if cells.get("question") and not cells.get("answer"):
                notes.skipped.append({"row": number, "question": cells["question"]})
                continue
            rows.append((number, cells))
        chosen = _resolve_repeats(rows, repeats, notes)
        for number, cells, merged in tqdm(chosen, desc=f"checking {path.name}", unit="row", disable=len(rows) < 500):
            entry, found = validate_entry(_row_to_raw(cells), "qa", path.name, f"row {number}")
            for p in found:  # name the row and the sheet column, not the model's field
                column = FIELD_TO_COLUMN.get(p.field.split(".")[0], p.field.split(".")[0])
                problems.append(Problem(p.source, f"row {number}", column, chinese(p.message)))
            if entry is not None:
                entries.append(entry)
                positions.setdefault(entry.id, f"row {number}")
                if merged:
                    notes.merged.append(entry.id)
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


def linkable_ids(entries: Sequence[Entry]) -> set[str]:
    """The ids a Q&A row's 关联指南 may name: guides and 一件事 bundles (a Q&A about a bundle)."""
    return {e.id for e in entries if e.kind in ("guide", "bundle")}


def read_import(path: Path, known_ids: set[str] | None = None, repeats: str = "first") -> list[Entry]:
    """Parse and validate an import file; raise KnowledgeBaseError listing every bad row."""
    entries, _, problems = parse_import(path, known_ids, repeats)
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
    notes: RowNotes = field(default_factory=RowNotes)
    without_wordings: list[str] = field(default_factory=list)  # Q&A ids with no similar questions

    @property
    def ok(self) -> bool:
        return not self.problems

    def good_rows_only(self) -> ImportCheck:
        """The same check without the bad rows' entries (an entry whose row has a problem is left out)."""
        bad_rows = {p.entry for p in self.problems}
        return ImportCheck(self.file, [e for e in self.entries if e.id not in bad_rows], [], self.duplicates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "entries": len(self.entries),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "problems": [
                {
                    "row": p.entry,
                    "column": p.field,
                    "reason": chinese(p.message),
                    "label": _row_label(p.entry) + " " + "、".join(column_label(c) for c in p.field.split(", ")),
                }
                for p in self.problems
            ],
            "duplicates": [d.to_dict() for d in self.duplicates],
            "skipped": self.notes.skipped,
            "repeats": self.notes.repeats,
            "merged": self.notes.merged,
            "without_wordings": len(self.without_wordings),
        }


def _row_label(position: str) -> str:
    """ "row 12" -> "第 12 行" (other positions, an entry id, stay as they are)."""
    return f"第 {position[4:]} 行" if position.startswith("row ") and position[4:].isdigit() else position


def check_import(path: Path, existing: Sequence[Entry], repeats: str = "first") -> ImportCheck:
    """Validate an import file and find duplicates against `existing` (the store) and within it."""
    known = linkable_ids(existing)
    notes = RowNotes()
    entries, positions, problems = parse_import(path, known_ids=known, repeats=repeats, notes=notes)
    check = ImportCheck(path.name, entries, problems, find_duplicates(entries, existing, positions), notes=notes)
    check.without_wordings = [e.id for e in entries if isinstance(e, QA) and not e.similar]
    stored = {e.id: e for e in existing}
    for entry in entries:
        before = stored.get(entry.id)
        target = check.added if before is None else check.unchanged if before == entry else check.updated
        target.append(entry.id)
    return check


TEMPLATE_EXAMPLE = {
    "question": "老年人优待证丢了怎么补办？",
    "answer": "带本人身份证到户籍所在地的街道便民服务中心申请补办，当场办结，不收费。",
    "similar_questions": "老年证丢了咋办|补办老年优待证|老人证掉了去哪补",
    "keywords": "老年优待证|补办",
    "department": "区民政局",
    "category": "老年人服务",
}


def write_template(path: Path) -> None:
    """An import template with the Chinese header and one example row (CSV or XLSX)."""
    columns = ["question", "answer", "similar_questions", "keywords", "department", "category"]
    header = [TEMPLATE_LABELS[c] for c in columns]
    example = [TEMPLATE_EXAMPLE[c] for c in columns]
    if file_format(path) == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerow(example)
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "问答导入模板"
    sheet.append(header)
    sheet.append(example)
    book.save(path)


def select(entries: Sequence[Entry], kind: str | None = None, domain: str | None = None) -> list[Entry]:
    """The entries of one kind and/or one domain (export of a filtered set)."""
    return [e for e in entries if (kind is None or e.kind == kind) and (domain is None or e.domain == domain)]


def write_export(entries: list[Entry], path: Path) -> int:
    """Write entries to `path`; CSV/XLSX hold Q&A entries only.  Returns how many were written."""
    fmt = file_format(path)
    if fmt == "yaml":
        doc: dict[str, Any] = {
            "sample_data": False,
            "domain": "export",
            "guides": [],
            "bundles": [],
            "qa": [],
            "centers": [],
            "terminals": [],
            "policies": [],
        }
        section = {
            "guide": "guides",
            "bundle": "bundles",
            "qa": "qa",
            "center": "centers",
            "terminal": "terminals",
            "policy": "policies",
        }
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
