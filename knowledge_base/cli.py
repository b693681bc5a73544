"""Command line of the knowledge base: `python -m knowledge_base --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from . import embeddings
from .kb import KnowledgeBase
from .loader import DATA_DIR, KnowledgeBaseError
from .search.base import SearchHit
from .settings import Settings
from .transfer import ImportCheck, check_import, linkable_ids, read_import, select, write_export

DESCRIPTION = """\
济时办 knowledge base: the curated service guides (办事指南), Q&A entries and service centres the
assistant answers from.  Every subcommand works on the store named by --db (default: $KB_DB, or
var/kb.sqlite3 in the repository), so a scratch store never touches the real one.
"""

EPILOG = """\
examples:
  python -m knowledge_base load                         # data files -> store (safe to repeat)
  python -m knowledge_base search 办营业执照要带什么材料
  python -m knowledge_base search --json --top 3 社保卡丢了
  printf '公积金怎么取\\n低保条件\\n' | python -m knowledge_base search -
  python -m knowledge_base import --check new_questions.xlsx   # report only, duplicates included
  python -m knowledge_base import new_questions.xlsx
  python -m knowledge_base export --kind qa all_questions.csv
  python -m knowledge_base stats
  KB_BACKEND=elasticsearch KB_ES_URL=https://es.example.org:9200 python -m knowledge_base reindex
"""


@asynccontextmanager
async def _opened(args: argparse.Namespace) -> AsyncIterator[KnowledgeBase]:
    """The store named by --db (or the settings), closed however the command ends."""
    kb = KnowledgeBase.open(Settings.from_env(db_path=args.db))
    try:
        yield kb
    finally:
        await kb.close()


async def cmd_load(args: argparse.Namespace) -> int:
    async with _opened(args) as kb:
        if args.vectors_later:  # the services encode what is missing in the background (vector_builder.py)
            backend = getattr(kb.backend, "fallback", kb.backend)
            backend.dense = None
        report = await kb.load_data_dir(Path(args.data_dir), prune=args.prune)
        print(
            f"loaded {args.data_dir}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed -> {kb.store.path}"
        )
        if report.kept:  # staff changed these in the console; the data files do not overwrite them
            print(f"kept {len(report.kept)} entries as staff published them: {', '.join(report.kept[:10])}")
    return 0


def _print_check(check: ImportCheck) -> None:
    print(
        f"{check.file}: {len(check.entries)} entries would be imported: {len(check.added)} new, "
        f"{len(check.updated)} changed, {len(check.unchanged)} unchanged"
    )
    for problem in check.problems:
        print(f"  bad: {problem.entry}: {problem.field}: {problem.message}")
    for skipped in check.notes.skipped:
        print(f"  skipped (empty answer): row {skipped['row']} 「{skipped['question']}」")
    for repeat in check.notes.repeats:
        rows = ", ".join(str(n) for n in repeat["rows"])
        print(f"  repeated question: rows {rows} 「{repeat['question']}」: row {repeat['kept']} kept")
    for dup in check.duplicates:
        where = "in the store" if dup.against == "store" else "earlier in the file"
        kind = "duplicate" if dup.match == "exact" else f"near-duplicate ({dup.score:.2f})"
        print(f"  {kind}: {dup.position} 「{dup.text}」 ~ 「{dup.other_text}」 of {dup.other_id} ({where})")


async def cmd_import(args: argparse.Namespace) -> int:
    async with _opened(args) as kb:
        if args.check:
            check = check_import(Path(args.file), kb.store.all(), args.repeats)
            if args.json:
                print(json.dumps(check.to_dict(), ensure_ascii=False))
            else:
                _print_check(check)
                print("check only: nothing was changed." if check.ok else "the file has bad rows: fix them first.")
            return 0 if check.ok else 1
        known = linkable_ids(kb.store.all())
        entries = read_import(Path(args.file), known_ids=known, repeats=args.repeats)
        report = await kb.publish(entries, author=f"import:{Path(args.file).name}")
        print(
            f"imported {args.file}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged"
        )
    return 0


async def cmd_export(args: argparse.Namespace) -> int:
    async with _opened(args) as kb:
        entries = select(kb.store.all(), kind=args.kind, domain=args.domain)
        count = write_export(entries, Path(args.file))
        print(f"exported {count} entries to {args.file}")
    return 0


def _print_hits(hits: list[SearchHit], as_json: bool) -> None:
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
        return
    if not hits:
        print("(no matching entry)")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. [{hit.score:.2f}] {hit.title}  <{hit.id}>  (matched: {hit.matched_field})")
        print(f"   {hit.snippet}")


async def cmd_search(args: argparse.Namespace) -> int:
    async with _opened(args) as kb:
        kinds = [args.kind] if args.kind else None
        if args.query == ["-"]:  # batch mode: one query a line in, one JSON line out
            for line in sys.stdin:
                hits = await kb.search(line.strip(), top_k=args.top, kinds=kinds)
                print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False), flush=True)
        else:
            query = " ".join(args.query)
            if not query.strip():
                print("empty query: type a question, e.g. 办营业执照要带什么材料", file=sys.stderr)
            _print_hits(await kb.search(query, top_k=args.top, kinds=kinds), args.json)
    return 0


async def cmd_stats(args: argparse.Namespace) -> int:
    async with _opened(args) as kb:
        stats = kb.store.stats()
        if args.json:
            print(json.dumps(stats, ensure_ascii=False))
        else:
            for kind, domains in stats.items():
                print(f"{kind}: {sum(domains.values())}")
                for domain, count in domains.items():
                    print(f"  {domain:<20} {count}")
            print(f"store: {kb.store.path} (generation {kb.store.generation()})")
    return 0


async def cmd_reindex(args: argparse.Namespace) -> int:
    settings = Settings.from_env(db_path=args.db)
    if settings.backend != "elasticsearch":
        print(
            "KB_BACKEND is 'embedded': its index is written with every change, so there is nothing to rebuild.\n"
            "Set KB_BACKEND=elasticsearch and KB_ES_URL to (re)build the Elasticsearch index.",
            file=sys.stderr,
        )
        return 2
    from .search.elastic import ElasticsearchUnavailableError  # needs the elasticsearch client

    async with _opened(args) as kb:
        backend = kb.backend
        try:
            if args.check:
                print(json.dumps(await backend.check_health(), ensure_ascii=False, indent=2))  # type: ignore[attr-defined]
            else:
                name = await backend.reindex(progress=True)  # type: ignore[attr-defined]
                print(f"reindexed {sum(sum(d.values()) for d in kb.store.stats().values())} entries into {name}")
        except ElasticsearchUnavailableError as error:
            message = f"error: Elasticsearch: {error}\nthe store is unchanged; searches use the embedded index."
            print(message, file=sys.stderr)
            return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge_base",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", help="store file to use (default: $KB_DB or var/kb.sqlite3)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "load",
        parents=[common],
        help="load the curated data files into the store (idempotent)",
        description="Validate every data file, then add or update their entries in one transaction. "
        "Nothing is written if any file has a problem.",
    )
    p.add_argument("--data-dir", default=str(DATA_DIR), metavar="DIR", help="folder of *.yml data files")
    p.add_argument("--prune", action="store_true", help="also remove entries that are no longer in the files")
    p.add_argument(
        "--vectors-later",
        action="store_true",
        help="write the entries only; the bot service encodes missing sentence vectors in the background "
        "when it starts (search is lexical for those entries until then)",
    )
    p.set_defaults(run=cmd_load)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="import Q&A rows from CSV/XLSX, or entries from YAML",
        description="All-or-nothing import. CSV/XLSX columns: question, answer, similar_questions "
        "(separated by |), keywords, department, category; optional id, domain, guide. "
        "Every bad row is reported with its row number, column and reason.",
    )
    p.add_argument("file", help="a .csv, .xlsx, .yml or .yaml file")
    p.add_argument(
        "--check",
        action="store_true",
        help="dry run: report bad rows, what would be added or changed, and duplicates or near-duplicates "
        "of stored entries and within the file; write nothing (exit 1 when a row is bad)",
    )
    p.add_argument("--json", action="store_true", help="with --check: print the report as JSON")
    p.add_argument(
        "--repeats",
        choices=("first", "last", "merge"),
        default="first",
        help="a question in several rows: keep the first row, the last, or merge their answers (default first); "
        "rows with an empty answer are always skipped and reported",
    )
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("export", parents=[common], help="export entries to CSV/XLSX (Q&A) or YAML (all kinds)")
    p.add_argument("file", help="target .csv, .xlsx, .yml or .yaml file")
    p.add_argument("--kind", choices=["guide", "qa", "center"], help="only entries of this kind")
    p.add_argument("--domain", metavar="NAME", help="only entries of this domain (see `stats`)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser(
        "search",
        parents=[common],
        help="search like the assistant does",
        description="Rank entries for a question. With '-' as the query, read one query per "
        "line from standard input and print one JSON list per line.",
    )
    p.add_argument("query", nargs="+", help="the question, or - to read queries from standard input")
    p.add_argument("--top", type=int, default=5, metavar="K", help="how many hits (default 5)")
    p.add_argument("--kind", choices=["guide", "qa", "center"], help="only entries of this kind")
    p.add_argument("--json", action="store_true", help="print hits as a JSON list")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser(
        "reindex",
        parents=[common],
        help="rebuild the Elasticsearch index from the store (KB_BACKEND=elasticsearch)",
        description="Build a new Elasticsearch index from the store and move the alias to it in one step: "
        "searches keep working during the rebuild. Settings: KB_ES_URL, KB_ES_USER/KB_ES_PASSWORD or "
        "KB_ES_API_KEY, KB_ES_CA, KB_ES_INDEX_PREFIX (see docs/elasticsearch.md).",
    )
    p.add_argument("--check", action="store_true", help="only check the cluster and catch up; print its health")
    p.set_defaults(run=cmd_reindex)

    p = sub.add_parser("stats", parents=[common], help="count entries by kind and domain")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.run in (cmd_load, cmd_import, cmd_reindex):
        embeddings.use_batch_threads()  # KB_ENCODE_THREADS for the thousands of texts of a first load
    try:
        return asyncio.run(args.run(args))
    except KnowledgeBaseError as error:
        print(f"error: {error}\nnothing was changed.", file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        print(f"error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
