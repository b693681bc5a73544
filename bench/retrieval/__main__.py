"""python -m bench.retrieval — quality and latency of knowledge-base search; writes REPORT.md."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
from pathlib import Path

import psutil

from knowledge_base.loader import load_data_dir

from .corpus import describe, grow
from .export_corpus import build_export_corpus
from .questions import EXPORT_SETS, HERE, SETS, label_problems, load_questions
from .report import Run, console_summary, write_markdown, write_plot
from .run import (
    BackendNotServingError,
    build_kb,
    drop_scratch_index,
    evaluate,
    fallback_queries,
    load_vector_cache,
    measure_latency,
    save_vector_cache,
)

SIZES = {"1k": 1_000, "10k": 10_000}
EXPORT = "export"  # a latency corpus too: the export-shaped corpus (2,080 entries), timed with its test questions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retrieval",
        description=(
            "Run the labelled citizen questions (test and dev sets) through KnowledgeBase.search and report "
            "Recall@1, Recall@3 and MRR@10 overall and per domain, the misses, and warm-query latency "
            "(p50/p95/p99) at 1k and 10k entries.  Writes REPORT.md and retrieval.png (suffixed with the "
            "backend name for other backends)."
        ),
        epilog="Examples:  python -m bench.retrieval --quick   |   "
        "KB_ES_URL=http://localhost:9200 python -m bench.retrieval --backend elasticsearch",
    )
    parser.add_argument(
        "--backend",
        choices=["embedded", "elasticsearch"],
        default="embedded",
        help="search backend to measure (elasticsearch reads KB_ES_URL and KB_ES_* credentials); default embedded",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a fast look: quality on both sets, latency at 1k only with 2 rounds; prints, writes no report "
        "unless --out is given",
    )
    parser.add_argument("--sets", default="test,dev", help="question sets to run, comma-separated (default test,dev)")
    parser.add_argument(
        "--export-sets",
        default="export-test,export-dev",
        help="question sets of the export-shaped corpus (export_corpus.py), comma-separated; '' skips that "
        "corpus (default export-test,export-dev)",
    )
    parser.add_argument("--sizes", default="1k,10k", help="corpus sizes for latency: 1k, 10k (default 1k,10k)")
    parser.add_argument("--repeat", type=int, default=20, help="timed rounds over the test questions (default 20)")
    parser.add_argument("--no-latency", action="store_true", help="quality only")
    parser.add_argument(
        "--dense",
        choices=["both", "off", "on"],
        default="both",
        help="the sentence-vector stage (search/dense.py): measure without it, with it, or both (default both; "
        "the report's main tables are the lexical ones, the hybrid gets its own section)",
    )
    parser.add_argument(
        "--dense-sizes",
        default="1k",
        help="corpora for the hybrid's latency: 1k, 10k, export (default 1k: the 10k corpus takes minutes to "
        "encode, and the per-query cost grows little with the size)",
    )
    parser.add_argument("--out", type=Path, help=f"directory for the report and plot (default {HERE})")
    parser.add_argument("--misses", action="store_true", help="also print every miss on the console")
    args = parser.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    args.export_sets = [s.strip() for s in args.export_sets.split(",") if s.strip()]
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.dense_sizes = [s.strip() for s in args.dense_sizes.split(",") if s.strip()]
    for name in args.sets:
        if name not in SETS:
            parser.error(f"unknown set {name!r}; choose from {', '.join(SETS)}")
    for name in args.export_sets:
        if name not in EXPORT_SETS:
            parser.error(f"unknown export set {name!r}; choose from {', '.join(EXPORT_SETS)}")
    for size in args.sizes + args.dense_sizes:
        if size not in SIZES and size != EXPORT:
            parser.error(f"unknown size {size!r}; choose from {', '.join(SIZES)}, {EXPORT}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.quick:
        args.sizes, args.dense_sizes, args.repeat = ["1k"], ["1k"], 2
    if args.out is None and not args.quick:
        args.out = HERE
    return args


async def _measure(
    args: argparse.Namespace,
    question_sets: dict,
    export_sets: dict,
    test_queries: list[str],
    dense: bool,
    sizes: list[str],
) -> tuple[list, list, int, list]:
    curated = load_data_dir()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        workdir = Path(tmp)
        fallbacks = 0
        sets = []
        if question_sets:
            kb, _ = await build_kb(args.backend, curated, workdir, "curated", dense)
            try:
                sets = [await evaluate(kb, name, qs) for name, qs in question_sets.items()]
                fallbacks += fallback_queries(kb)
            finally:
                await drop_scratch_index(kb)
                await kb.close()
        exported = []
        if export_sets:
            kb, _ = await build_kb(args.backend, build_export_corpus(), workdir, "export", dense)
            try:
                exported = [await evaluate(kb, name, qs) for name, qs in export_sets.items()]
                fallbacks += fallback_queries(kb)
            finally:
                await drop_scratch_index(kb)
                await kb.close()
            if dense:
                save_vector_cache()
        latency = []
        if not args.no_latency:
            for label in sizes:
                if label == EXPORT:
                    entries, queries = build_export_corpus(), [q.q for q in load_questions(EXPORT_SETS["export-test"])]
                else:
                    entries, queries = grow(curated, SIZES[label]), test_queries
                kb, seconds = await build_kb(args.backend, entries, workdir, label, dense)
                try:
                    latency.append(await measure_latency(kb, label, describe(entries), seconds, queries, args.repeat))
                    fallbacks += fallback_queries(kb)
                finally:
                    await drop_scratch_index(kb)
                    await kb.close()
    return sets, latency, fallbacks, exported


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


async def _main(args: argparse.Namespace) -> Run:
    curated = load_data_dir()
    domains = {e.id: e.domain for e in curated}
    question_sets = {}
    for name in args.sets:
        questions = load_questions(SETS[name])
        problems = label_problems(questions, domains)
        if problems:
            raise SystemExit(f"{SETS[name].name} has label problems:\n  " + "\n  ".join(problems))
        question_sets[name] = questions
    export_sets = {}
    if args.export_sets:
        export_domains = {e.id: e.domain for e in build_export_corpus()}
        for name in args.export_sets:
            questions = load_questions(EXPORT_SETS[name])
            problems = label_problems(questions, export_domains)
            if problems:
                raise SystemExit(f"{name} has label problems:\n  " + "\n  ".join(problems))
            export_sets[name] = questions
    test_queries = [q.q for q in load_questions(SETS["test"])]

    runs: dict[bool, tuple[list, list, int, list]] = {}
    rss_extra = None
    if args.dense != "off":
        load_vector_cache()
    for dense in {"off": [False], "on": [True], "both": [False, True]}[args.dense]:
        before = _rss_mb()
        sizes = args.dense_sizes if dense else args.sizes
        runs[dense] = await _measure(args, question_sets, export_sets, test_queries, dense, sizes)
        if dense:
            rss_extra = _rss_mb() - before
    fallbacks = sum(r[2] for r in runs.values())
    if fallbacks:
        print(f"warning: {fallbacks} queries were answered by the embedded fallback, not {args.backend}")
    notes_file = HERE / "NOTES.md"
    common = {
        "backend": args.backend,
        "quick": args.quick,
        "repeat": args.repeat,
        "command": "python -m bench.retrieval " + shlex.join(sys.argv[1:]),
    }
    main_sets, main_latency, _, main_export = runs.get(False, runs.get(True))
    hybrid = None
    if False in runs and True in runs:
        hybrid = Run(sets=runs[True][0], latency=runs[True][1], notes="", export_sets=runs[True][3], **common)
    return Run(
        sets=main_sets,
        latency=main_latency,
        export_sets=main_export,
        notes=notes_file.read_text(encoding="utf-8") if notes_file.exists() and args.backend == "embedded" else "",
        fallback_queries=fallbacks,
        hybrid=hybrid,
        hybrid_rss_mb=rss_extra if hybrid is not None else None,
        **common,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run = asyncio.run(_main(args))
    except BackendNotServingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(console_summary(run, run.sets + run.export_sets))
    if run.hybrid is not None:
        print("hybrid (dense stage on):")
        print(console_summary(run.hybrid, run.hybrid.sets + run.hybrid.export_sets))
    if args.misses:
        # The export corpus's test misses are not printed: tuning reads its dev misses only.
        shown = [(s, "") for s in run.sets] + [(s, "") for s in run.export_sets if s.name != "export-test"]
        if run.hybrid is not None:
            shown += [(s, " hybrid") for s in run.hybrid.export_sets if s.name != "export-test"]
        for s, stage in shown:
            for r in s.misses():
                got = ", ".join(i for i, _ in r.got[:3])
                expected = ", ".join(r.question.expected)
                print(f"[{s.name}{stage}] rank={r.rank or '-'} {r.question.q} | expected {expected} | got {got}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        suffix = "" if args.backend == "embedded" else f".{args.backend}"
        plot_name = f"retrieval{suffix}.png"
        write_plot(run, args.out / plot_name)
        write_markdown(run, args.out / f"REPORT{suffix}.md", plot_name)
        print(f"wrote {args.out / f'REPORT{suffix}.md'} and {args.out / plot_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
