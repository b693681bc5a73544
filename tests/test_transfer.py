"""Import and export: round trips and all-or-nothing imports."""

import csv
from pathlib import Path

import pytest

from knowledge_base.cli import main
from knowledge_base.loader import KnowledgeBaseError
from knowledge_base.store import Store
from knowledge_base.transfer import linkable_ids, read_import, write_export


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".yml"])
def test_export_then_import_gives_equal_entries(kb, tmp_path, suffix):
    kind = None if suffix == ".yml" else "qa"
    before = kb.store.all(kind)
    path = tmp_path / f"export{suffix}"
    assert write_export(before, path) == len(before)
    again = read_import(path, known_ids=linkable_ids(kb.store.all()))  # Q&As link guides and bundles
    assert sorted(again, key=lambda e: e.id) == before
    report = kb.store.upsert(again)
    assert report.changed == [] and len(report.unchanged) == len(before)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["question", "answer", "similar_questions", "keywords"])
        writer.writeheader()
        writer.writerows(rows)
    return path


GOOD_ROW = {
    "question": "老年证丢了能补吗？",
    "answer": "可以补办。",
    "similar_questions": "老年证丢了|补老年证|老人证掉了",
}


def test_import_with_one_bad_row_changes_nothing(kb, tmp_path, capsys):
    bad = {"question": "", "answer": "x", "similar_questions": "a|b|c"}
    too_few = {**GOOD_ROW, "question": "第三行", "similar_questions": "只有一个"}
    path = write_csv(tmp_path / "rows.csv", [GOOD_ROW, bad, too_few])
    generation = kb.store.generation()
    count = len(kb.store.all())
    assert main(["import", str(path), "--db", str(kb.store.path)]) == 1
    err = capsys.readouterr().err
    assert "row 3: question" in err and "row 4: similar_questions" in err and "nothing was changed" in err
    fresh = Store(kb.store.path)
    assert fresh.generation() == generation and len(fresh.all()) == count


def test_import_adds_rows_with_stable_ids(kb, tmp_path):
    path = write_csv(tmp_path / "rows.csv", [GOOD_ROW])
    assert main(["import", str(path), "--db", str(kb.store.path)]) == 0
    assert main(["import", str(path), "--db", str(kb.store.path)]) == 0  # same sheet again: no duplicate
    added = [e for e in Store(kb.store.path).all("qa") if e.question == GOOD_ROW["question"]]
    assert len(added) == 1 and added[0].similar == ["老年证丢了", "补老年证", "老人证掉了"]


def test_missing_required_column_is_reported(tmp_path):
    path = tmp_path / "rows.csv"
    # similar_questions may be left out (a district's export has none); answer may not.
    path.write_text("question\n问\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="answer"):
        read_import(path)
    path.write_text("question,answer\n低保怎么申请,到街道便民服务中心申请。\n", encoding="utf-8")
    [entry] = read_import(path)
    assert entry.similar == []


def test_unsupported_file_type(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="unsupported file type"):
        read_import(tmp_path / "rows.txt")
