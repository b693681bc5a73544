"""Validation on load: every problem named by file, entry and field; nothing half-loaded."""

from pathlib import Path

import pytest

from knowledge_base.loader import DATA_DIR, KnowledgeBaseError, load_data_dir, load_files
from knowledge_base.models import QA

GOOD_QA = """
sample_data: true
domain: test
qa:
  - id: qa.test.one
    question: 社保卡丢了怎么办？
    similar: [社保卡丢了, 社保卡找不到了, 补办社保卡]
    answer: 先挂失，再补办。
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_curated_data_loads_and_is_marked_sample():
    entries = load_data_dir()
    kinds = {e.kind for e in entries}
    assert kinds == {"guide", "qa", "center", "bundle", "terminal", "policy"}
    for path in DATA_DIR.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        assert "sample_data: true" in text, f"{path.name} must say it is sample data"


def test_curated_data_meets_the_coverage_the_issue_asks_for():
    entries = load_data_dir()
    guides = [e for e in entries if e.kind == "guide"]
    qas = [e for e in entries if e.kind == "qa"]
    assert len(guides) >= 60
    assert len(qas) >= 200
    assert all(len(q.similar) >= 3 for q in qas)
    assert len([e for e in entries if e.kind == "center"]) >= 11


def test_good_file_loads(tmp_path):
    [entry] = load_files([write(tmp_path, "a.yml", GOOD_QA)])
    assert entry.id == "qa.test.one" and entry.domain == "test"


def test_bad_field_is_named_with_file_entry_and_field(tmp_path):
    bad = GOOD_QA.replace("similar: [社保卡丢了, 社保卡找不到了, 补办社保卡]", "similar: [只有一个]")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_files([write(tmp_path, "bad.yml", bad)])
    [problem] = caught.value.problems
    assert (problem.source, problem.entry, problem.field) == ("bad.yml", "qa.test.one", "similar")


def test_every_problem_is_reported_and_nothing_is_returned(tmp_path):
    good = write(tmp_path, "good.yml", GOOD_QA)
    broken = GOOD_QA.replace("qa.test.one", "QA one").replace("answer: 先挂失，再补办。", "anser: x")
    bad = write(tmp_path, "bad.yml", broken)
    with pytest.raises(KnowledgeBaseError) as caught:
        load_files([good, bad])
    fields = {(p.source, p.field) for p in caught.value.problems}
    assert ("bad.yml", "id") in fields
    assert ("bad.yml", "answer") in fields  # missing
    assert ("bad.yml", "anser") in fields  # misspelt, not silently ignored


def test_duplicate_ids_and_dangling_links_are_errors(tmp_path):
    a = write(tmp_path, "a.yml", GOOD_QA)
    b = write(tmp_path, "b.yml", GOOD_QA.replace("answer:", "guide: guide.missing\n    answer:"))
    with pytest.raises(KnowledgeBaseError) as caught:
        load_files([a, b])
    messages = " ".join(str(p) for p in caught.value.problems)
    assert "duplicate id" in messages and "guide.missing" in messages


def test_yaml_syntax_error_names_the_file(tmp_path):
    with pytest.raises(KnowledgeBaseError) as caught:
        load_files([write(tmp_path, "broken.yml", "qa: [\n  - id: x\n")])
    assert caught.value.problems[0].source == "broken.yml"


def test_a_qa_may_have_no_similar_questions_but_not_one_or_two():
    # Real exported knowledge bases have none; curated entries have at least 3.
    assert QA(id="qa.x.one", question="社保 转移", answer="答复。").similar == []
    with pytest.raises(ValueError, match="at least 3"):
        QA(id="qa.x.two", question="社保 转移", similar=["一", "二"], answer="答复。")
