"""一件事 bundles (knowledge_base/bundles.py): their elements are computed from the member guides,
read through the knowledge base like a guide's, and a bad bundle is rejected at load time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from knowledge_base import KnowledgeBase
from knowledge_base.bundles import BundleGuide, compose, material_key
from knowledge_base.loader import DATA_DIR, KnowledgeBaseError, load_data_dir, load_files
from knowledge_base.models import Bundle, Guide, Material


def _catalogue() -> dict[str, object]:
    return {e.id: e for e in load_data_dir()}


def test_sample_bundles_are_marked_sample_and_name_existing_guides() -> None:
    doc = yaml.safe_load((DATA_DIR / "bundles.yml").read_text(encoding="utf-8"))
    assert doc["sample_data"] is True
    entries = _catalogue()
    bundles = [e for e in entries.values() if isinstance(e, Bundle)]
    assert len(bundles) >= 8
    for bundle in bundles:
        assert all(isinstance(entries[m], Guide) for m in bundle.members), bundle.id


def test_materials_are_merged_once_with_the_matters_they_serve() -> None:
    entries = _catalogue()
    bundle = entries["bundle.birth"]
    members = [entries[m] for m in bundle.members]
    view = compose(bundle, members)
    keys = [material_key(m.name) for m in view.materials]
    assert len(keys) == len(set(keys)), "a material is listed twice"
    # 出生医学证明 is asked for by both 出生登记 and 医保参保: one copy, naming both matters.
    certificate = next(m for m in view.materials if m.name == "出生医学证明")
    assert "出生登记" in certificate.note and "城乡居民基本医疗保险参保缴费" in certificate.note
    assert "交一份" in certificate.note
    assert view.separate_materials == sum(len(g.materials) for g in members)


def test_one_form_replaces_the_members_forms_and_produced_materials_are_not_brought() -> None:
    entries = _catalogue()
    bundle = entries["bundle.business-startup"]
    view = compose(bundle, [entries[m] for m in bundle.members])
    forms = [m for m in view.materials if m.form == "现场填写"]
    assert [m.name for m in forms] == [bundle.form]
    assert "公司登记（备案）申请书" in forms[0].note  # names what it replaces
    assert not any(material_key(m.name) == "营业执照" for m in view.materials)  # produced by the first member
    assert len(view.materials) < view.separate_materials


def test_steps_fees_and_time_limits_come_from_the_members() -> None:
    entries = _catalogue()
    bundle = entries["bundle.second-hand-house"]
    members = [entries[m] for m in bundle.members]
    view = compose(bundle, members)
    assert view.process[0].title == "一次申请" and bundle.form in (view.process[0].detail or "")
    for guide in members:
        assert any(guide.department in step.title for step in view.process)
        assert guide.time_limit.promised in view.time_limit.promised
    assert view.time_limit.promised.startswith(bundle.promised)
    charged = [g for g in members if g.fee.charged]
    assert view.fee.charged == bool(charged)
    for guide in charged:
        assert guide.fee.standard in view.fee.standard
    assert view.departments[0] == bundle.department
    assert set(view.departments) == {bundle.department, *(g.department for g in members)}


def test_a_member_change_shows_in_the_bundle_at_once(kb: KnowledgeBase) -> None:
    card = kb.get("guide.social-security-card")
    assert isinstance(card, Guide)
    changed = card.copy(update={"materials": [*card.materials, Material(name="新生儿户口页", form="复印件")]})
    asyncio.run(kb.publish([changed], author="test"))
    view = kb.get("bundle.birth")
    assert isinstance(view, BundleGuide)
    text = kb.element("bundle.birth", "materials") or ""
    assert "新生儿户口页" in text and "用于社会保障卡申领" in text
    assert text.startswith("一次提交，3件事共用一套材料")


def test_bundle_is_found_by_search_and_read_like_a_guide(kb: KnowledgeBase) -> None:
    hits = asyncio.run(kb.search("退休一件事", top_k=3))
    assert hits[0].id == "bundle.retirement"
    assert "养老金" in (kb.element("bundle.retirement", "process") or "")
    assert (kb.element("bundle.retirement", "fee") or "").startswith("不收费")


def test_a_bundle_naming_a_missing_guide_is_rejected(tmp_path: Path) -> None:
    bad = yaml.safe_load((DATA_DIR / "bundles.yml").read_text(encoding="utf-8"))
    bad["bundles"][0]["members"] = ["guide.no-such-matter", "guide.social-security-card"]
    files = [p for p in DATA_DIR.glob("*.yml") if p.name != "bundles.yml"]
    (tmp_path / "bundles.yml").write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as error:
        load_files([*files, tmp_path / "bundles.yml"])
    assert "members: no guide with id guide.no-such-matter" in str(error.value)


def test_a_bundle_needs_two_different_members() -> None:
    raw = yaml.safe_load((DATA_DIR / "bundles.yml").read_text(encoding="utf-8"))["bundles"][0]
    with pytest.raises(ValueError):
        Bundle.parse_obj({**raw, "members": ["guide.social-security-card"]})
    with pytest.raises(ValueError):
        Bundle.parse_obj({**raw, "members": ["guide.social-security-card", "guide.social-security-card"]})
