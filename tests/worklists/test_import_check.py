"""Import checks before commit: bad rows, duplicates and near-duplicates (knowledge_base/duplicates.py),
the CLI's `import --check`, and exports of a filtered set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from knowledge_base.cli import main
from knowledge_base.duplicates import find_duplicates, normalise
from knowledge_base.models import QA
from knowledge_base.store import Store
from knowledge_base.transfer import check_import, read_import, select, write_export

HEADER = ["question", "answer", "similar_questions", "keywords"]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def qa(entry_id: str, question: str, similar: list[str]) -> QA:
    return QA(id=entry_id, domain="test", question=question, similar=similar, answer="答案。")


def test_normalisation_ignores_blanks_punctuation_and_case():
    assert normalise(" 社保卡 丢了，怎么办？ABC ") == "社保卡丢了怎么办abc"


def test_exact_and_near_duplicates_against_the_store_and_within_the_file():
    stored = [
        qa("qa.t.lost-card", "社保卡丢了怎么补办", ["社保卡掉了", "补办社保卡", "社保卡遗失"]),
        qa("qa.t.other", "公积金怎么提取", ["取公积金", "公积金提取条件", "提公积金"]),
    ]
    imported = [
        qa("qa.t.new-1", "社保卡丢了，怎么补办？", ["a1", "a2", "a3"]),  # equal after normalisation
        qa("qa.t.new-2", "社保卡丢失了如何补办", ["b1", "b2", "b3"]),  # same terms once synonyms fold
        qa("qa.t.new-3", "老年证能代办吗", ["c1", "c2", "c3"]),  # nothing like it
        qa("qa.t.new-4", "老年证可以代办吗？", ["d1", "d2", "d3"]),  # like the row before it
        qa("qa.t.other", "公积金怎么提取", ["取公积金", "公积金提取条件", "提公积金"]),  # an update, not a duplicate
    ]
    found = find_duplicates(imported, stored, {e.id: f"row {i}" for i, e in enumerate(imported, start=2)})
    pairs = {(d.entry_id, d.other_id, d.match, d.against) for d in found}
    assert ("qa.t.new-1", "qa.t.lost-card", "exact", "store") in pairs
    assert any(p[:2] == ("qa.t.new-2", "qa.t.lost-card") and p[3] == "store" for p in pairs)
    assert ("qa.t.new-4", "qa.t.new-3", "near", "file") in pairs or (
        "qa.t.new-4",
        "qa.t.new-3",
        "exact",
        "file",
    ) in pairs
    assert not any(d.entry_id == "qa.t.new-3" for d in found)
    assert not any(d.entry_id == "qa.t.other" for d in found)
    first = next(d for d in found if d.entry_id == "qa.t.new-1")
    assert first.position == "row 2" and first.other_text == "社保卡丢了怎么补办" and first.score == 1.0


def test_check_reports_bad_rows_and_duplicates_and_writes_nothing(kb, tmp_path):
    existing = kb.store.all()
    some_qa = next(e for e in existing if isinstance(e, QA))
    path = write_csv(
        tmp_path / "new.csv",
        [
            {"question": some_qa.question, "answer": "新答案", "similar_questions": "x1|x2|x3"},
            {"question": "", "answer": "缺问题", "similar_questions": "y1|y2|y3"},
            {"question": "老年证能代办吗", "answer": "可以", "similar_questions": "只有一个"},
            {
                "question": "全新的一个问题关于养蜂补贴",
                "answer": "请咨询农业农村局。",
                "similar_questions": "养蜂补贴|蜜蜂补贴|养蜂有补助吗",
            },
        ],
    )
    generation = kb.store.generation()
    check = check_import(path, existing)
    assert not check.ok
    problems = {(p.entry, p.field) for p in check.problems}
    assert problems == {("row 3", "question"), ("row 4", "similar_questions")}
    [dup] = [d for d in check.duplicates if d.position == "row 2"]
    assert dup.match == "exact" and dup.other_id == some_qa.id and dup.against == "store"
    report = check.to_dict()
    assert report["problems"][0]["row"] in ("row 3", "row 4") and "reason" in report["problems"][0]
    assert len(report["added"]) == 2
    assert Store(kb.store.path).generation() == generation


def test_cli_check_is_a_dry_run_with_duplicates(kb, tmp_path, capsys):
    some_qa = next(e for e in kb.store.all("qa") if isinstance(e, QA))
    path = write_csv(
        tmp_path / "ok.csv",
        [{"question": some_qa.question + "？", "answer": "另一个答案", "similar_questions": "z1|z2|z3"}],
    )
    generation = kb.store.generation()
    assert main(["import", "--check", str(path), "--db", str(kb.store.path)]) == 0
    out = capsys.readouterr().out
    assert "duplicate: row 2" in out and some_qa.id in out and "nothing was changed" in out
    assert main(["import", "--check", "--json", str(path), "--db", str(kb.store.path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["duplicates"][0]["other_id"] == some_qa.id
    assert Store(kb.store.path).generation() == generation

    bad = write_csv(tmp_path / "bad.csv", [{"question": "", "answer": "x", "similar_questions": "a|b|c"}])
    assert main(["import", "--check", str(bad), "--db", str(kb.store.path)]) == 1
    assert "bad: row 2: question" in capsys.readouterr().out


def test_export_of_a_filtered_set(kb, tmp_path, capsys):
    entries = kb.store.all()
    domain = next(e.domain for e in entries if e.kind == "qa")
    chosen = select(entries, kind="qa", domain=domain)
    assert chosen and all(e.kind == "qa" and e.domain == domain for e in chosen)
    assert len(chosen) < len(select(entries, kind="qa"))

    target = tmp_path / "some.yml"
    assert main(["export", "--kind", "qa", "--domain", domain, str(target), "--db", str(kb.store.path)]) == 0
    doc = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert sorted(q["id"] for q in doc["qa"]) == sorted(e.id for e in chosen) and doc["guides"] == []
    guides = tmp_path / "guides.yml"
    assert main(["export", "--kind", "guide", str(guides), "--db", str(kb.store.path)]) == 0
    again = read_import(guides)
    assert {e.id for e in again} == {e.id for e in entries if e.kind == "guide"}
    assert write_export(chosen, tmp_path / "some.csv") == len(chosen)
