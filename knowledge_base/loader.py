"""Reading and validating the curated YAML data files.

A data file holds one domain:

    sample_data: true          # every shipped file is sample data, to be replaced
    domain: social_insurance   # ascii key used in ids and reports
    domain_name: 社会保险
    guides: [...]              # knowledge_base.models.Guide
    qa: [...]                  # knowledge_base.models.QA
    centers: [...]             # knowledge_base.models.Center
    bundles: [...]             # knowledge_base.models.Bundle (一件事一次办, naming member guides)
    terminals: [...]           # knowledge_base.models.Terminal (自助办, naming the guides they serve)
    policies: [...]            # knowledge_base.models.Policy (惠企政策, matched to a business profile)

Loading is all-or-nothing: every problem in every file is collected and reported together, each
naming the file, the entry and the field, and no entry is returned when there is any problem.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .models import ENTRY_TYPES, Bundle, Center, Entry, Guide, Terminal

DATA_DIR = Path(__file__).parent / "data"
SECTIONS = {
    "guides": "guide",
    "qa": "qa",
    "centers": "center",
    "bundles": "bundle",
    "terminals": "terminal",
    "policies": "policy",
}
HEADER_KEYS = {"sample_data", "domain", "domain_name"}


@dataclass(frozen=True)
class Problem:
    """One validation problem, located precisely enough for a person to fix it."""

    source: str  # file name (or import file)
    entry: str  # entry id, or "#N" (1-based position / row) when the id is unknown
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.entry}: {self.field}: {self.message}"


class KnowledgeBaseError(ValueError):
    """Raised with every problem found; nothing has been loaded or changed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the knowledge-base data:\n{lines}{more}")


def validate_entry(raw: Any, kind: str, source: str, position: str) -> tuple[Entry | None, list[Problem]]:
    """Validate one raw mapping as an entry of `kind`; return the entry or the problems."""
    if not isinstance(raw, Mapping):
        return None, [Problem(source, position, "(entry)", "expected a mapping of fields")]
    label = str(raw.get("id") or position)
    try:
        return ENTRY_TYPES[kind].parse_obj(raw), []  # type: ignore[return-value]
    except ValidationError as error:
        problems = [
            Problem(source, label, ".".join(str(part) for part in item["loc"]), item["msg"]) for item in error.errors()
        ]
        return None, problems


def parse_document(doc: Any, source: str) -> tuple[list[Entry], list[Problem]]:
    """Validate one parsed YAML document (a domain file)."""
    if not isinstance(doc, Mapping):
        return [], [Problem(source, "(file)", "(top level)", "expected a mapping with guides/qa/centers")]
    problems: list[Problem] = []
    unknown = set(doc) - HEADER_KEYS - set(SECTIONS)
    for key in sorted(map(str, unknown)):
        problems.append(Problem(source, "(file)", key, "unknown top-level key"))
    if doc.get("sample_data") is not True and doc.get("sample_data") is not False:
        problems.append(Problem(source, "(file)", "sample_data", "must say true or false"))
    domain = doc.get("domain")
    if not isinstance(domain, str) or not domain:
        problems.append(Problem(source, "(file)", "domain", "missing domain key"))
        domain = ""
    entries: list[Entry] = []
    for section, kind in SECTIONS.items():
        items = doc.get(section) or []
        if not isinstance(items, list):
            problems.append(Problem(source, "(file)", section, "expected a list"))
            continue
        for index, raw in enumerate(items, start=1):
            if isinstance(raw, Mapping) and "domain" not in raw and kind not in ("center", "terminal", "policy"):
                raw = {**raw, "domain": domain}
            entry, found = validate_entry(raw, kind, source, f"{section}#{index}")
            problems.extend(found)
            if entry is not None:
                entries.append(entry)
    return entries, problems


def check_consistency(entries: Iterable[Entry], source_of: Mapping[str, str]) -> list[Problem]:
    """Cross-entry checks: unique ids, Q&A links that point at an existing guide or bundle, and
    bundles whose members are existing guides."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    entries = list(entries)
    for entry in entries:
        if entry.id in seen:
            problems.append(
                Problem(source_of.get(entry.id, "?"), entry.id, "id", f"duplicate id, also in {seen[entry.id]}")
            )
        seen.setdefault(entry.id, source_of.get(entry.id, "?"))
    guide_ids = {e.id for e in entries if isinstance(e, Guide)}
    bundle_ids = {e.id for e in entries if isinstance(e, Bundle)}
    for entry in entries:
        link = getattr(entry, "guide", None)
        if link and link not in guide_ids | bundle_ids:
            problems.append(Problem(source_of.get(entry.id, "?"), entry.id, "guide", f"no guide with id {link}"))
        if isinstance(entry, Bundle):
            for member in entry.members:
                if member not in guide_ids:
                    problems.append(
                        Problem(source_of.get(entry.id, "?"), entry.id, "members", f"no guide with id {member}")
                    )
    problems.extend(_check_terminals(entries, guide_ids, source_of))
    return problems


def _check_terminals(entries: list[Entry], guide_ids: set[str], source_of: Mapping[str, str]) -> list[Problem]:
    """A terminal serves existing guides and stands in a street or town that has a centre (就近办
    finds terminals by the same places as centres)."""
    problems: list[Problem] = []
    areas = {e.area for e in entries if isinstance(e, Center)}
    for entry in entries:
        if not isinstance(entry, Terminal):
            continue
        source = source_of.get(entry.id, "?")
        for guide_id in entry.guides:
            if guide_id not in guide_ids:
                problems.append(Problem(source, entry.id, "guides", f"no guide with id {guide_id}"))
        if areas and entry.area not in areas:
            problems.append(Problem(source, entry.id, "area", f"no centre serves the area {entry.area}"))
    return problems


def load_files(paths: Iterable[Path]) -> list[Entry]:
    """Load and validate the given YAML files together; raise KnowledgeBaseError on any problem."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    source_of: dict[str, str] = {}
    for path in sorted(paths):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(Problem(path.name, "(file)", "(syntax)", str(error).replace("\n", " ")))
            continue
        found, file_problems = parse_document(doc, path.name)
        problems.extend(file_problems)
        for entry in found:
            source_of.setdefault(entry.id, path.name)
        entries.extend(found)
    problems.extend(check_consistency(entries, source_of))
    if problems:
        raise KnowledgeBaseError(problems)
    return entries


def load_data_dir(data_dir: Path = DATA_DIR) -> list[Entry]:
    """Load every `*.yml` file of the curated data directory."""
    return load_files(data_dir.glob("*.yml"))


@functools.lru_cache(maxsize=4)
def domain_names(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """domain -> its Chinese name, from the data files' headers (what staff read instead of ids)."""
    names = {}
    for path in sorted(data_dir.glob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, OSError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("domain"), str):
            names[doc["domain"]] = str(doc.get("domain_name") or doc["domain"])
    names.setdefault("centers", "服务网点")
    return names
