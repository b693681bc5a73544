"""免证办 (knowledge_base/exemptions.py): a material an 电子证照 replaces is marked 可免提交 with how
it is presented, and a materials answer says how many paper materials remain."""

from __future__ import annotations

from knowledge_base.bundles import compose
from knowledge_base.elements import render_element
from knowledge_base.exemptions import paper_summary
from knowledge_base.loader import load_data_dir
from knowledge_base.models import Bundle, Exemption, Guide, Material


def _entries() -> dict[str, object]:
    return {e.id: e for e in load_data_dir()}


def test_exempt_materials_are_marked_and_paper_is_counted() -> None:
    guide = _entries()["guide.primary-school-enrollment"]
    assert isinstance(guide, Guide)
    text = render_element(guide, "materials") or ""
    exempt = [m for m in guide.materials if m.exempt is not None]
    assert exempt, "the sample guide uses 免证办"
    for material in exempt:
        line = next(line for line in text.splitlines() if material.name in line)
        assert "可免提交" in line and material.exempt.licence in line
    paper = [m for m in guide.materials if m.exempt is None and m.form != "电子材料"]
    assert f"其中{len(exempt)}项可免提交；还需交纸质材料{len(paper)}项" in text


def test_each_way_says_what_to_do_instead() -> None:
    materials = [
        Material(name="居民身份证", exempt=Exemption(licence="电子身份证", way="爱山东亮证")),
        Material(name="营业执照", exempt=Exemption(licence="电子营业执照", way="数据共享免提交")),
        Material(name="场所证明", exempt=Exemption(licence="场所信息承诺书", way="告知承诺")),
        Material(name="申请表", form="现场填写"),
        Material(name="照片", form="电子材料"),
        Material(name="委托书", required=False),
    ]
    guide = _entries()["guide.primary-school-enrollment"].copy(update={"materials": materials})
    text = render_element(guide, "materials") or ""
    assert "爱山东APP“亮证”出示电子身份证" in text
    assert "数据共享调取电子营业执照" in text
    assert "签署场所信息承诺书代替" in text
    assert text.endswith("共6项材料，其中3项可免提交；还需交纸质材料2项（必交1项，另1项视情况提供）。")


def test_no_exemption_no_count() -> None:
    assert paper_summary([Material(name="居民身份证")]) is None


def test_a_bundle_keeps_an_exemption_only_when_every_member_accepts_it() -> None:
    entries = _entries()
    bundle = entries["bundle.birth"]
    assert isinstance(bundle, Bundle)
    members = [entries[m] for m in bundle.members]
    view = compose(bundle, members)
    certificate = next(m for m in view.materials if m.name == "出生医学证明")
    assert certificate.exempt is not None  # both members take the electronic certificate
    strict = members[1].copy(update={"materials": [m.copy(update={"exempt": None}) for m in members[1].materials]})
    view = compose(bundle, [members[0], strict, members[2]])
    assert next(m for m in view.materials if m.name == "出生医学证明").exempt is None
