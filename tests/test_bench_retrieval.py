"""The retrieval benchmark's own code: metrics, question files, synthetic corpora, CLI options.

Fast and deterministic; no timings (speed is measured by the benchmark, not asserted here)."""

from __future__ import annotations

import pytest

from bench.retrieval.__main__ import parse_args
from bench.retrieval.corpus import describe, grow
from bench.retrieval.metrics import first_relevant_rank, percentile, score, score_by_group
from bench.retrieval.questions import (
    DEV_SET,
    TEST_SET,
    Question,
    QuestionFileError,
    label_problems,
    load_questions,
    normalise,
)
from bench.retrieval.run import evaluate
from knowledge_base.loader import load_data_dir
from knowledge_base.models import QA, UNSEARCHED_KINDS, Bundle, Center, Guide, Policy


@pytest.fixture(scope="module")
def curated():
    return load_data_dir()


# -- metrics ------------------------------------------------------------------------------------
def test_first_relevant_rank_on_a_hand_made_ranking():
    ranking = ["a", "b", "c", "d"]
    assert first_relevant_rank(ranking, ["a"]) == 1
    assert first_relevant_rank(ranking, ["c", "b"]) == 2  # the first correct entry counts
    assert first_relevant_rank(ranking, ["x"]) is None
    assert first_relevant_rank([], ["a"]) is None


def test_scores_of_a_tiny_set():
    # ranks 1, 2, 3, 4, not found: R@1 1/5, R@3 3/5, MRR (1 + 1/2 + 1/3 + 1/4) / 5
    s = score([1, 2, 3, 4, None])
    assert s.n == 5
    assert s.recall_at_1 == pytest.approx(0.2)
    assert s.recall_at_3 == pytest.approx(0.6)
    assert s.mrr_at_10 == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 5)
    assert score([11]).mrr_at_10 == 0.0  # beyond the top 10 counts as not found
    assert score([]).n == 0


def test_scores_by_group():
    by = score_by_group([1, None, 2, 1], ["tax", "tax", "identity", "identity"])
    assert list(by) == ["identity", "tax"]
    assert by["tax"].recall_at_1 == pytest.approx(0.5)
    assert by["identity"].recall_at_3 == pytest.approx(1.0)
    assert by["identity"].mrr_at_10 == pytest.approx(0.75)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


# -- question files -----------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "minimum"), [(TEST_SET, 300), (DEV_SET, 80)])
def test_question_files_parse_and_fit_the_data(curated, path, minimum):
    questions = load_questions(path)
    assert len(questions) >= minimum
    assert label_problems(questions, {e.id: e.domain for e in curated}) == []


def test_test_set_covers_every_domain_and_kind(curated):
    questions = load_questions(TEST_SET)
    # 自助办 terminals are found by the matter and the place asked (actions/self_service.py), and
    # 惠企政策 are matched to a business's profile, never searched (models.UNSEARCHED_KINDS): the
    # retrieval sets ask for every other domain.
    searched = {e.domain for e in curated if e.kind != "terminal" and e.kind not in UNSEARCHED_KINDS}
    assert {q.domain for q in questions} == searched
    kinds = {q.expected[0].split(".")[0] for q in questions}
    assert kinds == {"guide", "qa", "center", "bundle"}


def test_no_question_is_repeated_within_or_across_sets():
    test, dev = load_questions(TEST_SET), load_questions(DEV_SET)
    test_keys = [normalise(q.q) for q in test]
    dev_keys = [normalise(q.q) for q in dev]
    assert len(set(test_keys)) == len(test_keys)
    assert len(set(dev_keys)) == len(dev_keys)
    assert not set(test_keys) & set(dev_keys), "a test question is also in the dev set"


def test_questions_are_not_copied_from_the_entries(curated):
    own: set[str] = set()
    for entry in curated:
        if isinstance(entry, (Guide, Bundle)):
            own |= {normalise(t) for t in [entry.title, *entry.aliases, *(f.question for f in entry.faq)]}
        elif isinstance(entry, QA):
            own |= {normalise(t) for t in [entry.question, *entry.similar]}
        elif isinstance(entry, Policy):
            own |= {normalise(t) for t in [entry.title, *entry.aliases]}
        else:
            own.add(normalise(entry.name))
    copied = [q.q for q in load_questions(TEST_SET) + load_questions(DEV_SET) if normalise(q.q) in own]
    assert copied == []


def test_label_problems_name_the_question():
    domains = {"guide.a": "tax", "qa.b": "tax"}
    problems = label_problems(
        [
            Question("甲", ("guide.a",), "tax"),
            Question("乙", ("guide.zzz",), "tax"),
            Question("丙", ("qa.b",), "identity"),
            Question("甲！", ("qa.b", "qa.b"), "tax"),
        ],
        domains,
    )
    assert len(problems) == 4
    assert problems[0].startswith("乙") and "unknown" in problems[0]
    assert problems[1].startswith("丙") and "domain" in problems[1]
    assert any("twice" in p for p in problems) and any("duplicate" in p for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "questions: []\n",
        "- q: x\n",
        "questions:\n  - q: 问题\n    expected: guide.a\n    domain: tax\n",
        "questions:\n  - q: 问题\n    expected: [guide.a]\n",
        "questions:\n  - q: '  '\n    expected: [guide.a]\n    domain: tax\n",
    ],
)
def test_malformed_question_files_are_rejected(tmp_path, text):
    path = tmp_path / "q.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionFileError):
        load_questions(path)


# -- synthetic corpora --------------------------------------------------------------------------
def test_grow_adds_fresh_valid_entries_deterministically(curated):
    grown = grow(curated, len(curated) + 120)
    assert len(grown) == len(curated) + 120
    assert grown[: len(curated)] == list(curated)
    new = grown[len(curated) :]
    ids = [e.id for e in grown]
    assert len(set(ids)) == len(ids)
    assert all(".synth-" in e.id for e in new)
    assert not any(isinstance(e, Center) for e in new)
    for entry in new:  # each one passes the same validation as curated data
        type(entry).parse_obj(entry.dict())
    assert [e.dict() for e in grow(curated, len(curated) + 120)[len(curated) :]] == [e.dict() for e in new]
    kinds = describe(grown)
    assert kinds["guide"] > describe(curated)["guide"] and kinds["qa"] > describe(curated)["qa"]


def test_synthetic_qa_mixes_several_real_entries(curated):
    real = {e.id: e for e in curated if isinstance(e, QA)}
    similar_owner = {s: e.id for e in real.values() for s in e.similar}
    synthetic = [e for e in grow(curated, len(curated) + 60) if isinstance(e, QA) and ".synth-" in e.id]
    assert synthetic
    for qa in synthetic:
        owners = {similar_owner[qa.question], *(similar_owner[s] for s in qa.similar)}
        assert len(owners) >= 2  # not a copy of one entry


def test_grow_never_shrinks_below_the_request(curated):
    assert len(grow(curated, 10)) == 10


# -- running questions through the real search --------------------------------------------------
async def test_evaluate_ranks_through_knowledge_base_search(kb):
    questions = [
        Question("个体工商户设立登记", ("guide.individual-business-registration",), "business"),
        Question("个体工商户设立登记", ("center.no-such-centre",), "centers"),
    ]
    result = await evaluate(kb, "tiny", questions)
    found, missing = result.results
    assert found.rank == 1 and found.got[0][0] == "guide.individual-business-registration"
    assert missing.rank is None and len(missing.got) <= 10
    assert result.overall.recall_at_1 == pytest.approx(0.5)
    assert result.misses() == [missing]


# -- command line -------------------------------------------------------------------------------
def test_cli_options():
    quick = parse_args(["--quick"])
    assert quick.sizes == ["1k"] and quick.repeat == 2 and quick.out is None
    full = parse_args(["--backend", "elasticsearch", "--sets", "test", "--sizes", "10k", "--repeat", "5"])
    assert full.backend == "elasticsearch" and full.sets == ["test"] and full.sizes == ["10k"] and full.repeat == 5
    assert full.out is not None
    for bad in (["--sets", "train"], ["--sizes", "5k"], ["--repeat", "0"], ["--backend", "solr"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_cli_dense_options():
    assert parse_args([]).dense == "both" and parse_args([]).dense_sizes == ["1k"]
    only = parse_args(["--dense", "off", "--dense-sizes", "1k,10k"])
    assert only.dense == "off" and only.dense_sizes == ["1k", "10k"]
    assert parse_args(["--dense-sizes", "export"]).dense_sizes == ["export"]  # the export corpus, timed
    for bad in (["--dense", "maybe"], ["--dense-sizes", "5k"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_report_shows_lexical_and_hybrid_side_by_side(tmp_path):
    from bench.retrieval.report import Run, write_markdown
    from bench.retrieval.run import LatencyResult, QuestionResult, SetResult

    question = Question("个体工商户设立登记", ("guide.a",), "business")

    def run_with(rank, ms, hybrid=None):
        sets = [SetResult("test", [QuestionResult(question, rank, [("guide.a", "A")])])]
        latency = [LatencyResult("1k", {"guide": 1, "qa": 0, "center": 0}, 1.0, 1, [ms], [ms], [0.01])]
        return Run("embedded", sets, latency, False, 1, "", "cmd", hybrid=hybrid, hybrid_rss_mb=12.0)

    run = run_with(2, 0.5, hybrid=run_with(1, 40.0))
    write_markdown(run, tmp_path / "REPORT.md", "plot.png")
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "lexical (KB_DENSE=false): test set R@1 0.000" in text
    assert "hybrid (KB_DENSE=true, the default): test set R@1 1.000" in text
    assert "search p95 at 1k entries 40.0 ms" in text
    assert "## Hybrid" in text and "12 MB" in text


# -- the export-shaped corpus -------------------------------------------------------------------
def test_export_corpus_has_the_shape_of_a_real_export():
    from bench.retrieval.export_corpus import build_export_corpus

    entries = build_export_corpus()
    assert len(entries) >= 2000 and len({e.id for e in entries}) == len(entries)
    assert all(e.similar == [] and e.keywords == [] for e in entries)
    assert all(200 <= len(e.answer) <= 1500 for e in entries)
    assert max(len(e.question) for e in entries) <= 20  # a few staff keywords
    assert len({e.domain for e in entries}) >= 14
    assert [e.answer for e in build_export_corpus()[:50]] == [e.answer for e in entries[:50]]  # deterministic


@pytest.mark.parametrize("name", ["export-test", "export-dev"])
def test_export_question_sets_fit_their_corpus(name):
    from bench.retrieval.export_corpus import domains
    from bench.retrieval.questions import EXPORT_SETS

    questions = load_questions(EXPORT_SETS[name])
    assert len(questions) >= 250
    assert label_problems(questions, domains()) == []


def test_export_sets_do_not_overlap_and_are_not_titles():
    from bench.retrieval.export_corpus import build_export_corpus
    from bench.retrieval.questions import EXPORT_SETS

    test, dev = (load_questions(EXPORT_SETS[n]) for n in ("export-test", "export-dev"))
    assert not {normalise(q.q) for q in test} & {normalise(q.q) for q in dev}
    titles = {normalise(e.question) for e in build_export_corpus()}
    assert [q.q for q in test + dev if normalise(q.q) in titles] == []
