"""惠企政策 matching (knowledge_base/policies.py) and the policy entries (models, loader, sample data)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from knowledge_base.business_profile import Profile
from knowledge_base.curation import InvalidEntryError, diff, validate
from knowledge_base.loader import load_data_dir
from knowledge_base.models import Policy
from knowledge_base.policies import check_all, match, missing_facts, named_in, rank

TODAY = datetime.date(2026, 12, 8)


def policy(pid: str, criteria: dict[str, Any] | None = None, **fields: Any) -> Policy:
    data: dict[str, Any] = {
        "id": f"policy.{pid}",
        "title": f"{pid}政策",
        "department": "某局",
        "level": "区",
        "summary": "说明",
        "criteria": criteria or {},
        "benefit": "补贴",
        "apply": "去窗口申请",
        "source": "测试",
    }
    data.update(fields)
    return Policy.parse_obj(data)


def statuses(p: Policy, profile: Profile) -> dict[str, str]:
    return {c.fact: c.status for c in check_all(p.criteria, profile)}


def test_each_criterion_is_met_unknown_or_failed() -> None:
    p = policy(
        "all",
        {
            "industries": ["制造业"],
            "sizes": ["小型", "微型"],
            "min_years": 1,
            "max_years": 5,
            "places": ["济阳区"],
            "tax_credit": ["A", "B"],
            "good_credit": True,
        },
    )
    unknown = statuses(p, Profile())
    assert set(unknown.values()) == {"unknown"}
    assert len(unknown) == 6
    fits = Profile("食品加工", ("小型",), 3.0, "济阳区", "A", True)  # 食品加工 is 制造业
    assert set(statuses(p, fits).values()) == {"met"}
    misfits = Profile("餐饮住宿", ("中型",), 8.0, "历城区", "C", False)
    assert set(statuses(p, misfits).values()) == {"failed"}


def test_a_size_of_two_possibilities_is_met_only_when_both_fit() -> None:
    small = policy("small", {"sizes": ["小型"]})
    both = policy("both", {"sizes": ["小型", "微型"]})
    either = Profile(sizes=("小型", "微型"))  # "小微"
    assert statuses(small, either) == {"size": "unknown"}
    assert statuses(both, either) == {"size": "met"}
    assert statuses(policy("mid", {"sizes": ["中型"]}), either) == {"size": "failed"}


def test_places_nest_and_a_wider_place_said_leaves_a_narrower_one_open() -> None:
    jiyang = policy("jiyang", {"places": ["济阳区"]})
    jinan = policy("jinan", {"places": ["济南市"]})
    assert statuses(jinan, Profile(place="济阳区")) == {"place": "met"}  # 济阳区 lies in 济南市
    assert statuses(jiyang, Profile(place="济南市")) == {"place": "unknown"}  # may be 济阳
    assert statuses(jiyang, Profile(place="历城区")) == {"place": "failed"}
    assert statuses(jinan, Profile(place="青岛市")) == {"place": "failed"}


def test_qualifications_are_met_only_when_said_and_fail_when_denied() -> None:
    p = policy("q", {"qualifications": ["高新技术企业"]})
    assert statuses(p, Profile()) == {"qualifications": "unknown"}
    assert statuses(p, Profile(qualifications=frozenset({"高新技术企业"}))) == {"qualifications": "met"}
    assert statuses(p, Profile(lacks=frozenset({"高新技术企业"}))) == {"qualifications": "failed"}


def test_years_bounds() -> None:
    p = policy("y", {"min_years": 1, "max_years": 3})
    assert [statuses(p, Profile(years=y))["years"] for y in (0.5, 1, 3, 3.5)] == ["failed", "met", "met", "failed"]


def test_a_failed_criterion_or_a_past_deadline_excludes_and_the_rest_rank_by_fit() -> None:
    policies = [
        policy("exact", {"industries": ["食品加工"], "places": ["济阳区"]}),
        policy("open", {"industries": ["食品加工"], "tax_credit": ["A"]}),
        policy("wide", {}),
        policy("wrong", {"industries": ["农业"]}),
        policy("over", {"industries": ["食品加工"]}, deadline="2026-06-30"),
        policy("later", {"industries": ["食品加工"]}, deadline="2027-06-30"),
    ]
    ranking = rank(policies, Profile(industry="食品加工", place="济阳区"), TODAY)
    assert [m.policy.id for m in ranking.candidates] == [
        "policy.exact",  # two met
        "policy.later",  # one met, nothing unknown
        "policy.wide",  # nothing to check
        "policy.open",  # one met, one unknown
    ]
    assert {m.policy.id for m in ranking.excluded} == {"policy.wrong", "policy.over"}
    assert next(m for m in ranking.excluded if m.policy.id == "policy.over").expired


def test_an_unknown_qualification_weighs_more_than_an_unknown_fact() -> None:
    gated = policy("gated", {"places": ["济南市"], "qualifications": ["高新技术企业"]})
    credit = policy("credit", {"places": ["济南市"], "good_credit": True})
    ranking = rank([gated, credit], Profile(place="济阳区"), TODAY)
    assert [m.policy.id for m in ranking.candidates] == ["policy.credit", "policy.gated"]


def test_ties_go_to_free_policies_then_the_nearest_deadline_then_the_most_local() -> None:
    policies = [
        policy("national", {}, level="国家"),
        policy("district", {}, level="区"),
        policy("soon", {}, deadline="2027-01-31"),
        policy("auto", {}, auto=True),
    ]
    ranking = rank(policies, Profile(), TODAY)
    assert [m.policy.id for m in ranking.candidates] == [
        "policy.auto",
        "policy.soon",
        "policy.district",
        "policy.national",
    ]


def test_the_facts_to_ask_are_those_unknown_to_most_candidates() -> None:
    policies = [
        policy("a", {"places": ["济阳区"], "sizes": ["小型"]}),
        policy("b", {"places": ["济阳区"]}),
        policy("c", {"places": ["济南市"], "tax_credit": ["A"]}),
    ]
    candidates = rank(policies, Profile(), TODAY).candidates
    assert missing_facts(candidates) == ["place", "size"]  # place: 3 policies; size and tax: 1 each, size first
    assert missing_facts(rank(policies, Profile(place="济阳区", sizes=("小型",)), TODAY).candidates) == ["tax_credit"]


def test_what_is_left_to_check_includes_the_other_conditions() -> None:
    p = policy("o", {"good_credit": True}, other_conditions=["上年度未裁员"])
    m = match(p, Profile(), TODAY)
    assert m.to_check == ["未列入严重失信名单和经营异常名录", "上年度未裁员"]


def test_a_policy_named_by_title_or_alias() -> None:
    p = policy("rd", aliases=["研发费用加计扣除"])
    assert named_in("研发费用加计扣除怎么申请", [p]) is p
    assert named_in("有啥补贴", [p]) is None


def test_the_sample_library() -> None:
    policies = [e for e in load_data_dir() if isinstance(e, Policy)]
    assert len(policies) >= 12
    assert all("示例" in p.title and "示例" in p.source for p in policies)  # marked sample, each one
    assert any(p.auto for p in policies) and any(not p.auto for p in policies)
    assert {p.level for p in policies} == {"国家", "省", "市", "区"}
    # The issue's own example: a small food factory in 济阳, three years old, tax credit A.
    profile = Profile("食品加工", ("小型",), 3.0, "济阳区", "A")
    ranking = rank(policies, profile, TODAY)
    assert ranking.candidates[0].policy.id == "policy.jiyang-food-upgrade"
    assert not ranking.candidates[0].unknown
    assert "policy.jiyang-rural-tourism" in {m.policy.id for m in ranking.excluded}


def test_policy_validation_names_fields_in_chinese() -> None:
    data = {
        "kind": "policy",
        "id": "policy.bad",
        "title": "坏政策",
        "department": "某局",
        "level": "乡",
        "summary": "说明",
        "criteria": {"sizes": ["巨型"], "min_years": 5, "max_years": 2},
        "benefit": "补贴",
        "apply": "申请",
        "deadline": "明年",
        "source": "测试",
    }
    with pytest.raises(InvalidEntryError) as raised:
        validate(data)
    labels = {p["field"]: p["label"] for p in raised.value.details}
    assert labels == {
        "level": "政策层级",
        "criteria.sizes[0]": "享受条件·企业规模",
        "criteria.max_years": "享受条件·成立不超过几年",
        "deadline": "截止日期",
    }
    messages = {p["field"]: p["message"] for p in raised.value.details}
    assert messages["deadline"].endswith("截止日期应写成 2027-06-30 这样的日期")
    assert messages["level"].startswith("只能选：")


def test_the_diff_of_two_versions_labels_policy_fields() -> None:
    before = {"kind": "policy", "deadline": "2027-06-30", "criteria": {"sizes": ["小型"]}}
    after = {"kind": "policy", "deadline": "2027-09-30", "criteria": {"sizes": ["小型", "微型"]}}
    assert {c.path: c.label for c in diff(before, after)} == {
        "deadline": "截止日期",
        "criteria.sizes[1]": "享受条件·企业规模",
    }
