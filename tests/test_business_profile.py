"""Reading a business's profile from its own words (knowledge_base/business_profile.py)."""

from __future__ import annotations

import datetime

import pytest

from knowledge_base.business_profile import Profile, chinese_number, read_profile

TODAY = datetime.date(2026, 12, 8)


def read(text: str) -> Profile:
    return read_profile(text, TODAY)


def test_the_one_message_description_gives_every_fact() -> None:
    p = read("俺们是济阳的一家小型食品加工厂，成立三年了，纳税信用A级，有啥补贴政策")
    assert (p.industry, p.sizes, p.years, p.place, p.tax_credit) == ("食品加工", ("小型",), 3.0, "济阳区", "A")
    assert p.describe() == "济阳区·食品加工·小型企业·成立3年·纳税信用A级"


@pytest.mark.parametrize(
    ("text", "industry"),
    [
        ("我们是做物流的", "交通物流"),
        ("开了个小饭店", "餐饮住宿"),
        ("种大棚的合作社", "农业"),
        ("软件公司", "信息技术"),
        ("俺们是做面粉的", "食品加工"),
        ("开超市的", "批发零售"),
        ("俺们厂做机械零件", "制造业"),
        ("俺们厂", "制造业"),  # a 厂 with no other word is manufacturing
        ("我们是科技型中小企业", None),  # a qualification, not an industry
        ("有啥惠企政策", None),
    ],
)
def test_industry_words(text: str, industry: str | None) -> None:
    assert read(text).industry == industry


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("小微企业", ("小型", "微型")),  # either: the business rarely knows which
        ("我们是微型企业", ("微型",)),
        ("中型制造企业", ("中型",)),
        ("大企业", ("大型",)),
        ("小公司", ("小型",)),
        ("我们是科技型中小企业", ()),  # 中小 inside a qualification's name is not the size
        ("专精特新中小企业", ()),
    ],
)
def test_size_words(text: str, sizes: tuple[str, ...]) -> None:
    assert read(text).sizes == sizes


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("成立三年了", 3.0),
        ("开了两年了", 2.0),
        ("干了十二年", 12.0),
        ("成立一年半", 1.5),
        ("注册满5年", 5.0),
        ("2020年成立的", 6.0),  # counted from today's date
        ("去年成立", 1.0),
        ("前年注册的", 2.0),
        ("刚成立", 0.5),
        ("五年的老厂了", 5.0),
        ("有啥补贴", None),
        ("纳税信用A级", None),
    ],
)
def test_years_since_registration(text: str, years: float | None) -> None:
    assert read(text).years == years


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("济阳的", "济阳区"),
        ("在孙耿街道", "济阳区"),  # a street of 济阳
        ("山东济南济阳区", "济阳区"),  # the narrowest place named
        ("在济南", "济南市"),
        ("济南历城的", "历城区"),
        ("青岛的公司", "青岛市"),
        ("没说地方", None),
    ],
)
def test_places(text: str, place: str | None) -> None:
    assert read(text).place == place


@pytest.mark.parametrize(
    ("text", "grade"),
    [("纳税信用A级", "A"), ("信用等级是b", "B"), ("我们是M级纳税人", "M"), ("纳税评级为C", "C"), ("信用良好", None)],
)
def test_tax_credit_grades(text: str, grade: str | None) -> None:
    assert read(text).tax_credit == grade


@pytest.mark.parametrize(
    ("text", "good"),
    [
        ("没有失信记录", True),
        ("信用良好", True),
        ("被列入经营异常名录了", False),
        ("上了黑名单", False),
        ("小企业", None),
    ],
)
def test_credit_record(text: str, good: bool | None) -> None:
    assert read(text).good_credit is good


def test_qualifications_and_their_negation() -> None:
    p = read("我们是高新技术企业，还不是专精特新")
    assert p.qualifications == {"高新技术企业"}
    assert p.lacks == {"专精特新中小企业"}
    assert read("刚评上高企").qualifications == {"高新技术企业"}


def test_a_later_fact_replaces_an_earlier_one_and_the_rest_stays() -> None:
    first = read("济阳的小型食品厂，不是高企")
    later = read("纳税信用B级，其实我们是高新技术企业")
    merged = first.merged(later)
    assert (merged.place, merged.industry, merged.tax_credit) == ("济阳区", "食品加工", "B")
    assert merged.qualifications == {"高新技术企业"} and not merged.lacks


def test_the_slot_round_trip_and_an_unreadable_slot() -> None:
    p = read("济阳的小微企业，成立三年，纳税信用A级，没有失信，是科技型中小企业")
    assert Profile.from_slot(p.to_slot()) == p
    assert Profile.from_slot({"industry": "瞎写", "sizes": ["巨型"], "years": "三"}) == Profile()
    assert Profile.from_slot(None).empty


def test_chinese_numbers() -> None:
    assert [chinese_number(t) for t in ("3", "三", "十", "十二", "二十", "两", "半")] == [3, 3, 10, 12, 20, 2, None]
