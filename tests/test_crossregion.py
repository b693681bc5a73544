"""跨域通办 data (knowledge_base/crossregion.py, models.CrossRegion): validation, how a guide's
scopes read, and whether a place the citizen names is covered by a scope."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from knowledge_base import crossregion
from knowledge_base.elements import render_element
from knowledge_base.loader import load_data_dir
from knowledge_base.models import CrossRegion, Guide


@pytest.fixture(scope="module")
def guides() -> dict[str, Guide]:
    return {e.id: e for e in load_data_dir() if isinstance(e, Guide)}


def test_a_scope_needs_a_way_and_names_each_way_once() -> None:
    with pytest.raises(ValidationError, match="ways"):
        CrossRegion.parse_obj({"scope": "全国通办", "ways": []})
    with pytest.raises(ValidationError, match="named twice"):
        CrossRegion.parse_obj({"scope": "全国通办", "ways": ["异地窗口", "异地窗口"]})
    with pytest.raises(ValidationError, match="scope"):
        CrossRegion.parse_obj({"scope": "全球通办", "ways": ["异地窗口"]})
    with pytest.raises(ValidationError, match="way"):
        CrossRegion.parse_obj({"scope": "全国通办", "ways": ["飞鸽传书"]})


def test_only_point_to_point_scopes_name_regions() -> None:
    with pytest.raises(ValidationError, match="点对点通办 names"):
        CrossRegion.parse_obj({"scope": "点对点通办", "ways": ["代收代办"]})
    with pytest.raises(ValidationError, match="only 点对点通办"):
        CrossRegion.parse_obj({"scope": "省内通办", "ways": ["代收代办"], "regions": ["河北"]})
    ok = CrossRegion.parse_obj({"scope": "点对点通办", "ways": ["代收代办"], "regions": ["河北"]})
    assert ok.regions == ["河北"]


def test_a_guide_names_each_scope_once(guides: dict[str, Guide]) -> None:
    raw = guides["guide.id-card-renewal-replacement"].dict()
    raw["cross_region"] = [raw["cross_region"][0], raw["cross_region"][0]]
    with pytest.raises(ValidationError, match="named twice"):
        Guide.parse_obj(raw)


def test_sample_guides_use_every_scope_but_not_every_guide_does(guides: dict[str, Guide]) -> None:
    scopes = {s.scope for g in guides.values() for s in g.cross_region}
    assert scopes == {"全国通办", "省内通办", "济南都市圈通办", "全市通办", "点对点通办"}
    assert any(not g.cross_region for g in guides.values())


def test_the_element_says_where_and_how(guides: dict[str, Guide]) -> None:
    card = guides["guide.id-card-renewal-replacement"]
    text = render_element(card, "cross_region")
    assert text is not None
    assert "全国通办" in text and "异地窗口" in text and card.cross_region[0].where in text


def test_a_guide_without_scopes_is_done_in_jiyang_or_online(guides: dict[str, Guide]) -> None:
    car = guides["guide.new-vehicle-registration"]
    assert not car.cross_region
    text = render_element(car, "cross_region")
    assert text is not None and "暂未列入跨域通办" in text and car.location.hall in text
    online = next(g for g in guides.values() if not g.cross_region and g.online is not None)
    assert "网上申请" in (render_element(online, "cross_region") or "")


@pytest.mark.parametrize(
    ("text", "name", "level"),
    [
        ("我在北京工作能在那边办吗", "北京", "外省"),
        ("俺在深圳打工", "深圳", "外省"),
        ("在淄博上班", "淄博", "济南都市圈"),
        ("人在青岛", "青岛", "山东省内"),
        ("我在历城住", "历城", "济南市内"),
    ],
)
def test_places_are_placed(text: str, name: str, level: str) -> None:
    place = crossregion.place_in(text)
    assert place is not None and (place.name, place.level) == (name, level)


def test_jiyang_itself_is_no_place_elsewhere() -> None:
    assert crossregion.place_in("我就在济阳") is None
    assert crossregion.place_in("能在外地办吗") is None


def test_scopes_reach_as_far_as_they_say() -> None:
    beijing = crossregion.place_in("北京")
    zibo = crossregion.place_in("淄博")
    qingdao = crossregion.place_in("青岛")
    licheng = crossregion.place_in("历城")
    assert beijing and zibo and qingdao and licheng

    def scope(name: str, regions: list[str] | None = None) -> CrossRegion:
        return CrossRegion.parse_obj({"scope": name, "ways": ["异地窗口"], "regions": regions or []})

    assert crossregion.covers(scope("全国通办"), beijing)
    assert not crossregion.covers(scope("省内通办"), beijing) and crossregion.covers(scope("省内通办"), qingdao)
    assert crossregion.covers(scope("济南都市圈通办"), zibo) and not crossregion.covers(
        scope("济南都市圈通办"), qingdao
    )
    assert crossregion.covers(scope("全市通办"), licheng) and not crossregion.covers(scope("全市通办"), zibo)
    assert crossregion.covers(scope("点对点通办", ["河北"]), crossregion.place_in("保定") or beijing)
    assert not crossregion.covers(scope("点对点通办", ["河北"]), beijing)


def test_the_verdict_for_a_place(guides: dict[str, Guide]) -> None:
    beijing = crossregion.place_in("北京")
    assert beijing is not None
    assert crossregion.verdict(guides["guide.id-card-renewal-replacement"], beijing).startswith("在北京可以办")
    # 个体户登记 is done across the 济南都市圈 only, and has an online entry.
    individual = guides["guide.individual-business-registration"]
    verdict = crossregion.verdict(individual, beijing)
    assert "办不了" in verdict or "不在范围" in verdict


def test_the_staff_editor_validation_names_the_cross_region_field(guides: dict[str, Guide]) -> None:
    """The console saves through curation.validate: a 点对点通办 without regions is refused with the
    field's path and its Chinese label."""
    from knowledge_base.curation import InvalidEntryError, validate

    raw = guides["guide.new-vehicle-registration"].dict(exclude_none=True)
    raw["cross_region"] = [{"scope": "点对点通办", "ways": ["代收代办"]}]
    with pytest.raises(InvalidEntryError) as refused:
        validate(raw)
    [problem] = refused.value.details
    assert problem["field"] == "cross_region[0].regions" and problem["label"] == "跨域通办"
    raw["cross_region"][0]["regions"] = ["河北"]
    assert validate(raw).cross_region[0].regions == ["河北"]


def test_a_terminal_open_24_hours_says_so_in_its_hours() -> None:
    from knowledge_base.curation import InvalidEntryError, validate
    from knowledge_base.models import Terminal

    raw = next(e for e in load_data_dir() if isinstance(e, Terminal) and e.always_open).dict()
    raw["hours"] = "周一至周五 9:00-17:00"
    with pytest.raises(InvalidEntryError) as refused:
        validate(raw)
    assert [p["field"] for p in refused.value.details] == ["always_open"]


def test_the_full_guide_page_lists_the_scopes(guides: dict[str, Guide]) -> None:
    from connectors.webwidget.guide_page import render

    card = guides["guide.id-card-renewal-replacement"]
    page = render(card)
    assert '<section id="cross-region"><h2>跨域通办</h2>' in page and card.cross_region[0].where in page
    assert 'id="cross-region"' not in render(guides["guide.new-vehicle-registration"])
