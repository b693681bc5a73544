"""bench/dialogue without a stack: the scenario files are valid (entries exist, splits balanced,
enough of them) and the turn checks judge canned replies right."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.dialogue import scenarios
from bench.dialogue.checks import Observed, judge, read_slots, turn_payloads
from bench.dialogue.run import pick_button
from bench.dialogue.scenarios import Turn
from knowledge_base.loader import load_data_dir


@pytest.fixture(scope="module")
def loaded() -> list[scenarios.Scenario]:
    return scenarios.load()


def test_enough_scenarios_and_turns(loaded: list[scenarios.Scenario]) -> None:
    assert len(loaded) >= 200
    assert sum(len(s.turns) for s in loaded) >= 500
    assert len({s.category for s in loaded}) >= 8


def test_every_named_entry_exists(loaded: list[scenarios.Scenario]) -> None:
    known = {entry.id for entry in load_data_dir()}
    missing = {(s.id, name) for s in loaded for t in s.turns for name in t.entry_ids() if name not in known}
    assert not missing


def test_splits_are_balanced_and_hashed(loaded: list[scenarios.Scenario]) -> None:
    counts = Counter(s.split for s in loaded)
    assert 0.4 <= counts["dev"] / len(loaded) <= 0.6
    assert all(s.split == scenarios.split_of(s.id) for s in loaded)
    for category in {s.category for s in loaded}:
        splits = {s.split for s in loaded if s.category == category}
        assert splits == {"dev", "test"}, category


def test_choice_references_follow_a_clarification(loaded: list[scenarios.Scenario]) -> None:
    for scenario in loaded:
        for index, turn in enumerate(scenario.turns):
            if any(e.startswith("@") for e in turn.entry or []):
                before = scenario.turns[:index]
                assert any("clarify" in (t.expected_outcomes() or []) for t in before), scenario.id


def test_turn_needs_an_action_and_an_expectation() -> None:
    with pytest.raises(ValueError):
        Turn(say="你好")
    with pytest.raises(ValueError):
        Turn(say="你好", press=1, outcome="chitchat")
    with pytest.raises(ValueError):
        Turn(say="你好", outcome="smalltalk")


# -- checks on canned replies ------------------------------------------------------------------


def reply(text: str, entry: dict[str, Any] | None = None, buttons: list[dict[str, str]] | None = None, **extra: Any):
    return {"text": text, "entry": entry, "buttons": buttons or [], "direction": "out", **extra}


def guide(entry_id: str, element: str | None = None) -> dict[str, Any]:
    return {"id": entry_id, "title": "t", "kind": "guide", "element": element}


def choose(entry_id: str) -> dict[str, str]:
    return {"title": entry_id, "payload": '/choose_entry{"entry_id":"' + entry_id + '"}'}


def test_answer_with_element_passes_and_wrong_entry_is_confidently_wrong() -> None:
    turn = Turn(say="补一张要钱么", entry="guide.social-security-card", element="fee")
    right = Observed([reply("…收费标准…", guide("guide.social-security-card", "fee"))], "bot")
    assert judge(turn, right).passed
    wrong_element = Observed([reply("…", guide("guide.social-security-card", "materials"))], "bot")
    verdict = judge(turn, wrong_element)
    assert not verdict.passed and verdict.failed_checks == ["element"] and verdict.failure == "other"
    wrong = Observed([reply("…", guide("guide.id-card-renewal-replacement", "fee"))], "bot")
    assert judge(turn, wrong).failure == "confidently_wrong"


def test_qa_answer_skips_the_element_check() -> None:
    turn = Turn(say="多久", entry=["guide.x", "qa.x"], element="time_limit")
    qa = Observed([reply("…", {"id": "qa.x", "title": "q", "kind": "qa", "element": None})], "bot")
    assert judge(turn, qa).passed


def test_needless_clarification_and_missed() -> None:
    turn = Turn(say="社保卡丢了", entry="guide.social-security-card")
    clarified = Observed(
        [reply("您想问的是下面哪一项？", None, [choose("guide.social-security-card"), choose("guide.x")])],
        "bot",
        payloads=[{"type": "unresolved", "reason": "clarify", "choices": ["guide.social-security-card", "guide.x"]}],
    )
    assert judge(turn, clarified).failure == "needless_clarification"
    fallback = Observed(
        [reply("抱歉，知识库里暂时没有找到…", None, [choose("qa.general.hall-hours")])],
        "bot",
        payloads=[{"type": "unresolved", "reason": "not_found", "choices": []}],
    )
    assert fallback.outcomes() == {"fallback"}
    assert judge(turn, fallback).failure == "missed"


def test_choice_reference_resolves_against_the_latest_clarification() -> None:
    turn = Turn(say="第二个", entry="@2")
    answered = Observed([reply("…", guide("guide.b"))], "bot")
    assert judge(turn, answered, ["guide.a", "guide.b"]).passed
    assert judge(turn, answered, ["guide.b", "guide.a"]).failure == "confidently_wrong"
    assert not judge(turn, answered, None).passed  # no clarification to choose from
    assert judge(Turn(say="后面那个", entry="@last"), answered, ["guide.a", "guide.b"]).passed


def test_clarify_choices_must_include_the_named_ones() -> None:
    turn = Turn(say="公积金咋取", outcome="clarify", choices=["guide.rent"])
    offered = Observed(
        [reply("您想问的是下面哪一项？", None, [choose("guide.buy"), choose("guide.rent")])], "bot", payloads=[]
    )
    assert offered.choices() == ["guide.buy", "guide.rent"]  # from the buttons when no payload says so
    assert judge(turn, offered).passed
    other = Observed([reply("您想问的是下面哪一项？", None, [choose("guide.buy")])], "bot")
    assert judge(turn, other).failure == "wrong_state"


def test_walkthrough_step_and_state() -> None:
    turn = Turn(say="下一步", outcome="walkthrough", entry="guide.w", step=2)
    step = {"entry_id": "guide.w", "step": 2, "total": 6}
    assert judge(turn, Observed([reply("第2步/共6步", walkthrough=step)], "bot")).passed
    step1 = {"entry_id": "guide.w", "step": 1, "total": 6}
    assert judge(turn, Observed([reply("第1步/共6步", walkthrough=step1)], "bot")).failure == "wrong_state"
    handoff = Turn(say="卡住了", outcome="handoff", state="waiting_helper")
    assert judge(handoff, Observed([reply("已为您转接人工帮办")], "waiting_helper")).passed
    assert judge(handoff, Observed([reply("好的")], "bot")).failure == "wrong_state"


def test_nonsense_answered_as_chitchat_fails_and_pii_echo_fails() -> None:
    turn = Turn(say="asdfghjkl", outcome="fallback")
    assert judge(turn, Observed([reply("不客气！还有什么可以帮您？")], "bot")).failure == "wrong_state"
    assert judge(turn, Observed([reply("抱歉，我没有看懂您的意思。")], "bot")).passed
    pii = Turn(say="身份证号370125198805123456", outcome="fallback", text_not="370125198805123456")
    assert not judge(pii, Observed([reply("没有找到“370125198805123456”")], "bot")).passed


def test_centre_and_slots() -> None:
    turn = Turn(say="几点上班", centre="center.qudi-zhen")
    centre = {"id": "center.qudi-zhen", "title": "曲堤", "kind": "center", "element": None}
    assert judge(turn, Observed([reply("9:00", centre)], "bot")).passed
    hall = {"id": "center.district", "title": "区", "kind": "center", "element": None}
    assert judge(turn, Observed([reply("9:00", hall)], "bot")).failure == "confidently_wrong"
    stop = Turn(say="先不弄了", slots={"walkthrough_active": False})
    assert judge(stop, Observed([reply("好的")], "bot", slots={"walkthrough_active": False})).passed
    assert not judge(stop, Observed([reply("好的")], "bot", slots={"walkthrough_active": True})).passed


def test_tracker_reading() -> None:
    tracker = {
        "slots": {"service_id": "guide.a", "dialogue_state": {"current_element": "fee"}},
        "events": [
            {"event": "user", "text": "a"},
            {"event": "bot", "data": {"custom": {"type": "answer", "entry_id": "old"}}},
            {"event": "user", "text": "b"},
            {"event": "bot", "data": {"custom": {"type": "unresolved", "reason": "no_words", "choices": []}}},
            {"event": "bot", "text": "抱歉", "data": {}},
        ],
    }
    assert turn_payloads(tracker) == [{"type": "unresolved", "reason": "no_words", "choices": []}]
    assert turn_payloads(tracker, users_before=2) == []  # Rasa never saw this turn's message
    assert read_slots(tracker)["current_element"] == "fee"


def test_button_presses() -> None:
    first = Observed([reply("…", None, [{"title": "网上怎么办", "payload": "/start_walkthrough"}])], "bot")
    second = Observed([reply("…", None, [choose("guide.a"), choose("guide.b")])], "bot")
    assert pick_button(Turn(press=2, outcome="answer"), [first, second]) == choose("guide.b")
    assert pick_button(Turn(press=3, outcome="answer"), [first, second]) is None
    assert pick_button(Turn(press="网上怎么办", outcome="walkthrough"), [first, second])["payload"] == (
        "/start_walkthrough"
    )


def test_a_centre_among_acceptable_entries_accepts_a_centre_answer() -> None:
    turn = Turn(say="太平街道能办残疾证吗", entry=["center.taiping-jiedao", "guide.disability-certificate-first"])
    centre = {"id": "center.taiping-jiedao", "title": "太平", "kind": "center", "element": None}
    assert judge(turn, Observed([reply("…", centre)], "bot")).passed
    assert judge(turn, Observed([reply("…", guide("guide.disability-certificate-first"))], "bot")).passed


def test_the_services_late_notices_are_not_judged() -> None:
    from bench.dialogue.run import is_late_notice
    from bot import texts

    assert is_late_notice({"kind": "notice", "text": texts.APOLOGY})
    assert is_late_notice({"kind": "notice", "text": texts.LATE_ANSWER.format(question="社保卡")})
    assert not is_late_notice({"kind": "notice", "text": texts.HANDOFF_NOTICE})


def test_a_policy_list_and_the_question_for_a_business_profile() -> None:
    def policy(entry_id: str, element: str) -> dict[str, Any]:
        return {"id": entry_id, "title": "t", "kind": "policy", "element": element}

    listed = Observed(
        [
            reply("按您说的情况…", None),
            reply("1. …", policy("policy.a", "match")),
            reply("2. …", policy("policy.b", "match")),
        ],
        "bot",
    )
    assert judge(Turn(say="有啥补贴", entry="policy.b", element="match"), listed).passed
    assert not judge(Turn(say="有啥补贴", entry="policy.c", element="match"), listed).passed
    asked = Observed([reply("可以帮您对照惠企政策。为了筛得准，先问您2个情况：…", None)], "bot")
    assert asked.outcomes() == {"asks_profile"}
    assert judge(Turn(say="有啥惠企政策", outcome="asks_profile"), asked).passed
    assert not judge(Turn(say="有啥惠企政策", outcome="asks_profile"), listed).passed
