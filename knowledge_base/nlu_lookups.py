"""Write the knowledge base's names as Rasa NLU lookup tables and synonyms.

    python -m knowledge_base.nlu_lookups OUTDIR [--db PATH]

writes OUTDIR/lookups.yml with
- lookup `service`: every guide title (also without its bracketed part) and every alias;
  Q&A entries are left out on purpose (their questions are sentences, not names);
- lookup `place`: every centre's area, name and places (the district's streets and towns while
  there are no centre entries);
- `synonym` blocks: each alias -> its guide's title, each centre name or place -> the centre's
  area, so the entities always carry a value the knowledge base knows.

Entries are read from the curated data files by default, from a store with --db.  Rasa's
RegexEntityExtractor matches a lookup table as one alternation, first alternative wins, so each
table is written longest name first: "营业执照遗失补领" is found whole, not as "补执照"-like pieces.
The output is generated (the training script writes it to var/nlu_generated/): never commit it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .loader import KnowledgeBaseError, load_data_dir
from .models import Bundle, Center, Entry, Guide

OUTPUT_NAME = "lookups.yml"

# The streets and towns of 济阳区, used only while the knowledge base has no centre entries.
DISTRICT_AREAS = (
    "济阳街道",
    "济北街道",
    "回河街道",
    "孙耿街道",
    "崔寨街道",
    "太平街道",
    "垛石街道",
    "曲堤街道",
    "仁风镇",
    "新市镇",
)
# Short names people use ("回河的大厅"); 济阳/太平/新市 are left out: too common as plain words.
AMBIGUOUS_SHORT_NAMES = frozenset({"济阳", "太平", "新市"})

_BRACKETED = re.compile(r"[（(][^）)]*[）)]")


@dataclass
class Lookups:
    services: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # canonical -> variants
    conflicts: list[str] = field(default_factory=list)  # variants claimed by two canonicals


def _unique_longest_first(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        name = name.strip()
        if name and name.lower() not in {s.lower() for s in seen}:
            seen[name] = None
    return sorted(seen, key=lambda s: (-len(s), s))


def short_area_name(area: str) -> str | None:
    """回河街道 -> 回河, 仁风镇 -> 仁风; None when the short form would be ambiguous."""
    for suffix in ("街道", "镇"):
        if area.endswith(suffix) and len(area) > len(suffix) + 1:
            short = area[: -len(suffix)]
            return None if short in AMBIGUOUS_SHORT_NAMES else short
    return None


def build_lookups(entries: Sequence[Entry]) -> Lookups:
    result = Lookups()
    owner: dict[str, str] = {}  # variant (lower-cased) -> canonical

    def add_synonym(variant: str, canonical: str) -> None:
        key = variant.strip().lower()
        if not key or key == canonical.lower():
            return
        if key in owner:
            if owner[key] != canonical:
                result.conflicts.append(f"{variant}: {owner[key]} / {canonical}")
            return
        owner[key] = canonical
        result.synonyms.setdefault(canonical, []).append(variant.strip())

    services: list[str] = []
    guides = [e for e in entries if isinstance(e, (Guide, Bundle))]  # a 一件事 is named like a guide
    # Titles first: a title is never re-mapped to another guide by somebody's alias.
    for guide in guides:
        owner[guide.title.lower()] = guide.title
        services.append(guide.title)
    # A bracket-less title shared by several guides (住房公积金提取（租房）/（购房）) names none
    # of them: it stays a service name but gets no synonym, so the dialogue asks which one.
    bases = Counter(_BRACKETED.sub("", g.title).strip().lower() for g in guides)
    for guide in guides:
        base = _BRACKETED.sub("", guide.title).strip()
        if bases[base.lower()] > 1:
            services.append(base)
            base = ""
        for variant in [base, *guide.aliases]:
            if not variant:
                continue
            if variant.lower() in owner and owner[variant.lower()] != guide.title:
                result.conflicts.append(f"{variant}: {owner[variant.lower()]} / {guide.title}")
                continue
            services.append(variant)
            add_synonym(variant, guide.title)

    # Places: each centre's area is the canonical value; its name and places map to it.
    places: list[str] = []
    centers = [e for e in entries if isinstance(e, Center)]
    for center in centers:
        owner.setdefault(center.area.lower(), center.area)
        places.append(center.area)
    for center in centers:
        for variant in [center.name, *center.places]:
            places.append(variant)
            add_synonym(variant, center.area)
    if not centers:  # no directory yet: still know the district's streets and towns
        for area in DISTRICT_AREAS:
            places.append(area)
            short = short_area_name(area)
            if short:
                places.append(short)
                add_synonym(short, area)

    result.services = _unique_longest_first(services)
    result.places = _unique_longest_first(places)
    return result


def to_rasa_yaml(lookups: Lookups) -> str:
    nlu: list[dict[str, object]] = [
        {"lookup": "service", "examples": _literal_examples(lookups.services)},
        {"lookup": "place", "examples": _literal_examples(lookups.places)},
    ]
    for canonical, variants in lookups.synonyms.items():
        nlu.append({"synonym": canonical, "examples": _literal_examples(variants)})
    header = "# Generated by `python -m knowledge_base.nlu_lookups` from the knowledge base. Do not edit.\n"
    body = yaml.dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False, width=1000)
    return header + body


class _Literal(str):
    """A str written as a YAML block literal (Rasa wants `examples: |`)."""


yaml.add_representer(_Literal, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|"))


def _literal_examples(values: Iterable[str]) -> _Literal:
    return _Literal("".join(f"- {value}\n" for value in values))


def read_entries(db: Path | None) -> list[Entry]:
    if db is None:
        return load_data_dir()
    from .store import Store  # only when asked: the store is not needed for the data files

    if not db.exists():
        raise FileNotFoundError(f"no knowledge-base store at {db}")
    store = Store(db)
    try:
        return store.all()
    finally:
        store.close()


def write_lookups(out_dir: Path, entries: Sequence[Entry]) -> tuple[Path, Lookups]:
    lookups = build_lookups(entries)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / OUTPUT_NAME
    path.write_text(to_rasa_yaml(lookups), encoding="utf-8")
    return path, lookups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge_base.nlu_lookups",
        description="Write Rasa NLU lookup tables (service, place) and synonyms from the knowledge base.",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write lookups.yml into (e.g. var/nlu_generated)")
    parser.add_argument("--db", type=Path, help="read the entries from this SQLite store instead of the data files")
    args = parser.parse_args(argv)
    try:
        entries = read_entries(args.db)
    except (KnowledgeBaseError, FileNotFoundError) as error:
        print(f"nlu_lookups: {error}", file=sys.stderr)
        return 1
    path, lookups = write_lookups(args.out_dir, entries)
    for conflict in lookups.conflicts:
        print(f"nlu_lookups: warning: name used by two entries, kept the first: {conflict}", file=sys.stderr)
    print(
        f"nlu_lookups: wrote {path} ({len(lookups.services)} service names, {len(lookups.places)} places, "
        f"{sum(len(v) for v in lookups.synonyms.values())} synonyms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
