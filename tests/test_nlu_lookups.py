"""Lookup tables and synonyms generated from the knowledge base (knowledge_base.nlu_lookups)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

from knowledge_base.loader import load_data_dir
from knowledge_base.models import Bundle, Center, Guide
from knowledge_base.nlu_lookups import DISTRICT_AREAS, build_lookups, main

REPO = Path(__file__).resolve().parent.parent


def guide(id_: str, title: str, aliases: list[str]) -> Guide:
    return Guide.parse_obj(
        {
            "id": id_,
            "title": title,
            "code": "X-1",
            "type": "公共服务",
            "department": "某局",
            "audience": ["自然人"],
            "aliases": aliases,
            "summary": "说明",
            "conditions": ["条件"],
            "materials": [{"name": "身份证"}],
            "process": [{"title": "受理"}],
            "time_limit": {"legal": "1个工作日", "promised": "即办"},
            "fee": {"charged": False, "standard": "不收费"},
            "location": {"hall": "大厅", "address": "地址", "hours": "工作日", "phone": "0531-1"},
            "legal_basis": ["某条例"],
        }
    )


def center(id_: str, name: str, area: str, places: list[str]) -> Center:
    return Center.parse_obj(
        {
            "id": id_,
            "name": name,
            "level": "街道",
            "area": area,
            "places": places,
            "address": "地址",
            "hours": "工作日",
            "phone": "0531-2",
            "services": ["社保"],
        }
    )


ENTRIES = [
    guide("guide.a", "营业执照遗失补领", ["执照丢了", "补执照"]),
    guide("guide.b", "住房公积金提取（租房）", ["租房提公积金"]),
    guide("guide.c", "住房公积金提取（购房）", ["买房提公积金", "补执照"]),  # alias clash with guide.a
    guide("guide.d", "出生登记（报户口）", ["报户口"]),
    center("center.h", "回河街道便民服务中心", "回河街道", ["回河", "回河镇"]),
]


def test_services_are_titles_and_aliases_longest_first():
    lookups = build_lookups(ENTRIES)
    services = lookups.services
    for name in ["营业执照遗失补领", "执照丢了", "补执照", "出生登记（报户口）", "出生登记", "报户口"]:
        assert name in services
    assert [len(s) for s in services] == sorted((len(s) for s in services), reverse=True)


def test_synonyms_map_aliases_to_the_title():
    synonyms = build_lookups(ENTRIES).synonyms
    assert set(synonyms["营业执照遗失补领"]) == {"执照丢了", "补执照"}
    assert set(synonyms["出生登记（报户口）"]) == {"出生登记", "报户口"}


def test_a_name_shared_by_two_guides_maps_to_neither_or_the_first():
    lookups = build_lookups(ENTRIES)
    # bracket-less title common to two guides: a service name, but no synonym for either
    assert "住房公积金提取" in lookups.services
    assert all("住房公积金提取" not in v for v in lookups.synonyms.values())
    # the same alias on two guides: the first keeps it and the clash is reported
    assert "补执照" not in lookups.synonyms.get("住房公积金提取（购房）", [])
    assert any(c.startswith("补执照") for c in lookups.conflicts)


def test_places_map_to_the_centres_area():
    lookups = build_lookups(ENTRIES)
    assert {"回河街道", "回河街道便民服务中心", "回河", "回河镇"} <= set(lookups.places)
    assert set(lookups.synonyms["回河街道"]) == {"回河街道便民服务中心", "回河", "回河镇"}
    assert "仁风镇" not in lookups.places  # centres known: no built-in fallback list


def test_without_centres_the_district_streets_and_towns_are_places():
    lookups = build_lookups(ENTRIES[:1])
    assert set(DISTRICT_AREAS) <= set(lookups.places)
    assert lookups.synonyms["回河街道"] == ["回河"]
    assert "新市" not in lookups.places  # too common a word to be a place by itself


def test_cli_writes_rasa_yaml_from_the_curated_data(tmp_path, capsys):
    assert main([str(tmp_path / "out")]) == 0
    assert "wrote" in capsys.readouterr().out
    data = load_data(str(tmp_path / "out" / "lookups.yml"))
    tables = {t["name"]: t["elements"] for t in data.lookup_tables}
    entries = load_data_dir()
    titles = {e.title for e in entries if isinstance(e, (Guide, Bundle))}
    assert titles <= set(tables["service"])
    assert {e.area for e in entries if isinstance(e, Center)} <= set(tables["place"])
    assert not any(e.startswith("qa.") for e in tables["service"])
    for variant, canonical in data.entity_synonyms.items():
        assert canonical in titles or canonical in {e.area for e in entries if isinstance(e, Center)}, variant


def test_cli_reads_a_store_with_db(tmp_path, loaded_db):
    db = tmp_path / "kb.sqlite3"
    shutil.copy(loaded_db, db)
    assert main([str(tmp_path), "--db", str(db)]) == 0
    assert "lookup: service" in (tmp_path / "lookups.yml").read_text(encoding="utf-8")


def test_cli_says_clearly_when_the_store_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "knowledge_base.nlu_lookups", str(tmp_path), "--db", str(tmp_path / "none.sqlite3")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "no knowledge-base store" in result.stderr
    assert not (tmp_path / "lookups.yml").exists()
