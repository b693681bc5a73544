"""REPORT.md and the plot, written for a person: tables first, then the misses to read."""

from __future__ import annotations

import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.search import dense

from .metrics import Scores
from .run import LATENCY_TOP_K, LatencyResult, SetResult

TARGET_R1 = 0.85
TARGET_R3 = 0.95
TARGET_P95_MS = 2.0
EXPORT_R1 = 0.75  # the export-shaped corpus (issue #11)
EXPORT_R3 = 0.92


@dataclass
class Run:
    backend: str
    sets: list[SetResult]
    latency: list[LatencyResult]
    quick: bool
    repeat: int
    notes: str  # hand-written notes (NOTES.md), included verbatim
    command: str
    fallback_queries: int = 0  # a remote backend's queries answered by its embedded fallback
    hybrid: Run | None = None  # the same questions with the dense stage on (search/dense.py)
    hybrid_rss_mb: float | None = None  # extra resident memory of the encoder and the vectors
    export_sets: list[SetResult] = field(default_factory=list)  # the export-shaped corpus (export_corpus.py)


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _scores_row(label: str, s: Scores) -> str:
    return f"| {label} | {s.n} | {_pct(s.recall_at_1)} | {_pct(s.recall_at_3)} | {_pct(s.mrr_at_10)} |"


def _ms(values: dict[str, float], key: str) -> str:
    return f"{values[key]:.3f}" if key in values else "—"


def _target(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _environment() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"{platform.python_implementation()} {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(the machine is shared with other jobs, so tail latencies carry their noise)"
    )


def headline(run: Run) -> list[str]:
    """One line per target, also printed on the console."""
    lines = []
    test = next((s for s in run.sets if s.name == "test"), None)
    if test:
        o = test.overall
        lines.append(f"test set R@1 {o.recall_at_1:.3f} (target ≥ {TARGET_R1}): {_target(o.recall_at_1 >= TARGET_R1)}")
        lines.append(f"test set R@3 {o.recall_at_3:.3f} (target ≥ {TARGET_R3}): {_target(o.recall_at_3 >= TARGET_R3)}")
    export = next((s for s in run.export_sets if s.name == "export-test"), None)
    if export:
        o = export.overall
        lines.append(
            f"export test R@1 {o.recall_at_1:.3f} (target ≥ {EXPORT_R1}): {_target(o.recall_at_1 >= EXPORT_R1)}"
        )
        lines.append(
            f"export test R@3 {o.recall_at_3:.3f} (target ≥ {EXPORT_R3}): {_target(o.recall_at_3 >= EXPORT_R3)}"
        )
    big = next((lat for lat in run.latency if lat.label == "10k"), None)
    if big:
        p95 = big.summary(big.search_ms)["p95"]
        verdict = _target(p95 <= TARGET_P95_MS)
        lines.append(f"search p95 at 10k entries {p95:.3f} ms (target ≤ {TARGET_P95_MS} ms): {verdict}")
    return lines


def write_markdown(run: Run, path: Path, plot_name: str) -> None:
    out: list[str] = []
    add = out.append
    add(f"# Retrieval benchmark — backend `{run.backend}`\n")
    add("Written by `python -m bench.retrieval` (do not edit by hand; notes come from `NOTES.md`).")
    add(f"Command: `{run.command}`.  Environment: {_environment()}.\n")
    if run.fallback_queries:
        add(f"**Warning: {run.fallback_queries} queries were answered by the embedded fallback.**\n")
    add("## Targets\n")
    for line in headline(run):
        add(f"- lexical (KB_DENSE=false): {line}" if run.hybrid is not None else f"- {line}")
    if run.hybrid is not None:
        for line in headline(run.hybrid):
            add(f"- hybrid (KB_DENSE=true, the default): {line}")
        for lat in run.hybrid.latency:
            p95 = lat.summary(lat.search_ms)["p95"]
            add(
                f"- hybrid (KB_DENSE=true, the default): search p95 at {lat.label} entries {p95:.1f} ms "
                f"(target ≤ {TARGET_P95_MS} ms): {_target(p95 <= TARGET_P95_MS)}"
            )
    add("")
    add(f"![recall per domain and latency]({plot_name})\n")

    stage = " — lexical stage (KB_DENSE=false)" if run.hybrid is not None else ""
    add(f"## Quality{stage}\n")
    add("Each question is sent to `KnowledgeBase.search(q, top_k=10)` over a scratch store holding the curated")
    add("entries.  A question is *found at rank r* when the first of its expected entries is the r-th hit.")
    add("Recall@k = share of questions found within the top k; MRR@10 = mean of 1/r (0 when not in the top 10).\n")
    add("| set | questions | Recall@1 | Recall@3 | MRR@10 |")
    add("|---|---:|---:|---:|---:|")
    for s in run.sets:
        add(_scores_row(s.name, s.overall))
    add("")
    for s in run.sets:
        add(f"### Per domain — {s.name} set\n")
        add("| domain | questions | Recall@1 | Recall@3 | MRR@10 |")
        add("|---|---:|---:|---:|---:|")
        for domain, scores in s.by_domain.items():
            add(_scores_row(domain, scores))
        add("")

    if run.latency:
        add("## Latency\n")
        per_round = run.latency[0].queries // max(1, run.repeat)
        add(
            f"Warm queries: the {per_round} test-set questions, each once untimed, then {run.repeat} rounds in "
            f"shuffled order, timed one call at a time with `time.perf_counter` (top_k={LATENCY_TOP_K}, the "
            "assistant's default).  Milliseconds.\n"
        )
        add(
            "- **search** — `await KnowledgeBase.search(...)`, the path the assistant uses (over a current index "
            "the embedded backend answers on the event loop, without a worker thread)."
        )
        add(
            "- **core** — the backend's synchronous search alone (tokenising, BM25F scoring of the top 10, the "
            "guide-first rule of search/rerank.py, building the hits)."
        )
        add("- **snippets** — building the snippets of one query's hits again on their own (already part of both).\n")
        add(
            "| corpus | guides | Q&As | centres | build s | calls | search p50 | p95 | p99 | core p50 | p95 | p99 |"
            " snippets p50 | p95 |"
        )
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for lat in run.latency:
            s, c, n = lat.summary(lat.search_ms), lat.summary(lat.search_sync_ms), lat.summary(lat.snippet_ms)
            e = lat.entries
            add(
                f"| {lat.label} | {e['guide']} | {e['qa']} | {e['center']} | {lat.build_seconds:.1f} | {lat.queries} | "
                f"{_ms(s, 'p50')} | {_ms(s, 'p95')} | {_ms(s, 'p99')} | {_ms(c, 'p50')} | {_ms(c, 'p95')} | "
                f"{_ms(c, 'p99')} | {_ms(n, 'p50')} | {_ms(n, 'p95')} |"
            )
        add("")
        add("How the larger corpora are made (`bench/retrieval/corpus.py`): the curated entries plus synthetic ones")
        add("that recombine fields of different real entries under fresh ids — a synthetic Q&A takes its question")
        add("from one entry's citizen wordings, its similar wordings from three others, its answer from sentences of")
        add("two more and keywords from another; a synthetic guide takes the structure of one guide with")
        add("title/aliases, summary, conditions, materials, process, FAQ and keywords each from a different guide.")
        add("Guides and Q&As")
        add("keep the curated proportion; the generator is seeded, so every run indexes the same corpus.\n")

    if run.hybrid is not None:
        out.extend(hybrid_section(run.hybrid, run.hybrid_rss_mb))
    if run.export_sets or (run.hybrid is not None and run.hybrid.export_sets):
        out.extend(export_section(run))

    for s in run.sets:
        misses = s.misses()
        add(f"## Misses{stage} — {s.name} set ({len(misses)} of {s.overall.n} not ranked first)\n")
        add("| rank | question | expected | got (top 3) |")
        add("|---:|---|---|---|")
        for r in misses:
            got = "<br>".join(f"{i} {t}" for i, t in r.got[:3]) or "(nothing)"
            q = r.question.q.replace("|", "｜")
            add(f"| {r.rank or '—'} | {q} | {'<br>'.join(r.question.expected)} | {got} |")
        add("")

    if run.notes.strip():
        add("## Notes\n")
        add(run.notes.strip())
        add("")
    path.write_text("\n".join(out), encoding="utf-8")


def export_section(run: Run) -> list[str]:
    """The export-shaped corpus (export_corpus.py): both stages side by side, per domain, dev misses."""
    out = ["## Export-shaped corpus (bench/retrieval/export_corpus.py, SAMPLE)\n"]
    out.append("2,080 Q&A entries in the shape of a real exported knowledge base: the title is a few staff")
    out.append('keywords ("公积金提取 租房 要件"), the answer long official prose (290-760 characters), no similar')
    out.append("questions and no keywords; 130 matters in 15 domains, each as an overview and 15 aspect entries, so")
    out.append("most entries have near neighbours.  Questions in citizens' words (`export/dev_questions.yml`,")
    out.append("`export/questions.yml`).\n")
    stages = [("lexical", run)] + ([("hybrid", run.hybrid)] if run.hybrid is not None else [])
    stages = [(label, r) for label, r in stages if r.export_sets]
    out.append("| stage | set | questions | Recall@1 | Recall@3 | MRR@10 |")
    out.append("|---|---|---:|---:|---:|---:|")
    for label, r in stages:
        for s in r.export_sets:
            o = s.overall
            out.append(
                f"| {label} | {s.name} | {o.n} | {_pct(o.recall_at_1)} | {_pct(o.recall_at_3)} | {_pct(o.mrr_at_10)} |"
            )
    out.append("")
    for label, r in stages:
        for line in headline(Run(r.backend, [], [], r.quick, r.repeat, "", r.command, export_sets=r.export_sets)):
            out.append(f"- {label}: {line}")
    out.append("")
    label, last = stages[-1]
    dev = next((s for s in last.export_sets if s.name == "export-dev"), None)
    if dev is not None:
        out.append(f"### Per domain — export-dev, {label}\n")
        out.append("| domain | questions | Recall@1 | Recall@3 | MRR@10 |")
        out.append("|---|---:|---:|---:|---:|")
        out.extend(_scores_row(domain, scores) for domain, scores in dev.by_domain.items())
        out.append("")
        misses = dev.misses()
        out.append(f"### Misses — export-dev, {label} ({len(misses)} of {dev.overall.n} not ranked first)\n")
        out.append("The export test set's misses are not listed: tuning reads the dev set only.\n")
        out.append("| rank | question | expected | got (top 3) |")
        out.append("|---:|---|---|---|")
        for r in misses:
            got = "<br>".join(f"{i} {t}" for i, t in r.got[:3]) or "(nothing)"
            q = r.question.q.replace("|", "｜")
            out.append(f"| {r.rank or '—'} | {q} | {'<br>'.join(r.question.expected[:2])} | {got} |")
        out.append("")
    return out


def hybrid_section(hybrid: Run, rss_mb: float | None) -> list[str]:
    """Quality and latency with the dense stage on, next to the lexical numbers above."""
    out = ["## Hybrid: lexical top 30 and dense recall, re-scored with sentence vectors (search/dense.py)\n"]
    out.append("The same questions and corpora with the dense stage on (KB_DENSE=true, the default): the lexical")
    out.append(f"top 30 and the {dense.DENSE_RECALL} entries nearest to the question by multilingual-e5-small vectors")
    out.append(f"(the dense recall), re-scored by {1 - dense.WEIGHT:.1f} x BM25F (scaled to the best; 0 for entries")
    out.append(f"only the recall found) + {dense.WEIGHT:.1f} x similarity (min-max over the candidates), then the")
    out.append("title fit and the guide-first rule.  The question's vector is computed once per message (by the")
    out.append("NLU in the assistant; here on the untimed warm-up call); the entries' vectors at publish time (in")
    out.append("the build time below).\n")
    out.append("| set | questions | Recall@1 | Recall@3 | MRR@10 |")
    out.append("|---|---:|---:|---:|---:|")
    out.extend(_scores_row(s.name, s.overall) for s in hybrid.sets)
    out.append("")
    if hybrid.latency:
        out.append("| corpus | entries | build s | calls | search p50 | p95 | p99 | core p50 | p95 | p99 |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for lat in hybrid.latency:
            s, c = lat.summary(lat.search_ms), lat.summary(lat.search_sync_ms)
            out.append(
                f"| {lat.label} | {sum(lat.entries.values())} | {lat.build_seconds:.1f} | {lat.queries} | "
                f"{_ms(s, 'p50')} | {_ms(s, 'p95')} | {_ms(s, 'p99')} | {_ms(c, 'p50')} | {_ms(c, 'p95')} | "
                f"{_ms(c, 'p99')} |"
            )
        out.append("")
        out.append("Per query the dense stage adds one matrix-vector product over every stored text's vector (the")
        out.append("recall), picking the nearest entries, and the re-scoring; the question's encoding (one e5-small")
        out.append("forward pass, about 35 ms on one core) is done once per message by the NLU and is not in these")
        out.append("timings.  The corpus size changes the one-off encoding at publish time and the vectors' memory")
        out.append("(1.5 KB per text).\n")
    if rss_mb is not None:
        out.append(
            f"Resident memory grew by {rss_mb:.0f} MB over the hybrid runs (encoder, vectors of the curated and "
            "1k corpora, the process's text memo).\n"
        )
    return out


def write_plot(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = next((s for s in run.sets if s.name == "test"), run.sets[0] if run.sets else None)
    exported = bool(run.export_sets or (run.hybrid is not None and run.hybrid.export_sets))
    panels = (1 if test is not None else 0) + (1 if run.latency else 0) + (1 if exported else 0)
    fig, axes = plt.subplots(1, max(1, panels), figsize=(7 * max(1, panels), 4.8), squeeze=False)
    panel = iter(axes[0])
    if exported:
        _export_panel(next(panel), run)
    if test is None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    ax = next(panel)
    domains = list(test.by_domain)
    xs = range(len(domains))
    r1 = [test.by_domain[d].recall_at_1 for d in domains]
    r3 = [test.by_domain[d].recall_at_3 for d in domains]
    ax.bar([x - 0.2 for x in xs], r1, width=0.4, label="Recall@1")
    ax.bar([x + 0.2 for x in xs], r3, width=0.4, label="Recall@3")
    ax.axhline(TARGET_R1, color="tab:blue", linestyle=":", linewidth=1)
    ax.axhline(TARGET_R3, color="tab:orange", linestyle=":", linewidth=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(domains, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{test.name} set, per domain (n={test.overall.n}); dotted: targets")
    ax.legend(loc="lower left", fontsize=8)
    if run.latency:
        ax = next(panel)
        for lat in run.latency:
            values = sorted(lat.search_ms)
            ys = [(i + 1) / len(values) for i in range(len(values))]
            ax.plot(values, ys, label=f"{lat.label} ({sum(lat.entries.values())} entries)")
        ax.axvline(TARGET_P95_MS, color="grey", linestyle=":", linewidth=1)
        ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("KnowledgeBase.search latency, ms (log)")
        ax.set_ylabel("share of calls")
        ax.set_title(f"search latency CDF, backend {run.backend}; dotted: p95 ≤ {TARGET_P95_MS} ms")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _export_panel(ax: object, run: Run) -> None:
    """Recall@1 / @3 of the curated test set and the export sets, lexical and hybrid."""
    groups: list[tuple[str, SetResult]] = []
    for label, r in [("lexical", run), ("hybrid", run.hybrid)]:
        if r is None:
            continue
        groups += [(f"{s.name}\n{label}", s) for s in r.sets if s.name == "test"]
        groups += [(f"{s.name}\n{label}", s) for s in r.export_sets]
    xs = range(len(groups))
    ax.bar([x - 0.2 for x in xs], [s.overall.recall_at_1 for _, s in groups], width=0.4, label="Recall@1")
    ax.bar([x + 0.2 for x in xs], [s.overall.recall_at_3 for _, s in groups], width=0.4, label="Recall@3")
    ax.axhline(EXPORT_R1, color="tab:blue", linestyle=":", linewidth=1)
    ax.axhline(EXPORT_R3, color="tab:orange", linestyle=":", linewidth=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([label for label, _ in groups], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("curated test vs export-shaped corpus; dotted: export targets")
    ax.legend(loc="lower left", fontsize=8)


def console_summary(run: Run, sets: Sequence[SetResult]) -> str:
    lines = [f"backend {run.backend}"]
    for s in sets:
        o = s.overall
        lines.append(f"{s.name:>5}: n={o.n} R@1={o.recall_at_1:.3f} R@3={o.recall_at_3:.3f} MRR@10={o.mrr_at_10:.3f}")
    for lat in run.latency:
        s, c = lat.summary(lat.search_ms), lat.summary(lat.search_sync_ms)
        core = f" core p50={c['p50']:.3f} p95={c['p95']:.3f}" if c else ""
        lines.append(f"{lat.label:>7}: search p50={s['p50']:.3f} p95={s['p95']:.3f} p99={s['p99']:.3f} ms{core}")
    return "\n".join(lines + headline(run))
