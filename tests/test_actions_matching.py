"""The answer / clarify / none decision on hand-made hits (the thresholds' behaviour at their
edges), and the chosen thresholds on the curated data's own questions."""

from __future__ import annotations

import pytest

from actions.config import Settings
from actions.matching import Thresholds, asked_verbatim, judge, ranked_choice, settled
from knowledge_base import SearchHit

T = Thresholds(min_coverage=0.5, min_score=6.0, confident_coverage=0.8, close_ratio=0.7, max_choices=3)


def hit(entry_id: str, score: float, coverage: float = 1.0) -> SearchHit:
    return SearchHit(entry_id, "qa", "d", entry_id, "", score, "title", coverage, "")


def test_nothing_or_below_the_floor_is_none() -> None:
    assert judge([], T).outcome == "none"
    assert judge([hit("a", 20, coverage=0.4)], T).outcome == "none"
    assert judge([hit("a", 5.9)], T).outcome == "none"


def test_a_clear_winner_is_answered() -> None:
    match = judge([hit("a", 20), hit("b", 13.9)], T)
    assert match.outcome == "answer" and [h.id for h in match.choices] == ["a"]


def test_close_hits_are_offered_at_most_three() -> None:
    match = judge([hit("a", 20), hit("b", 19), hit("c", 18), hit("d", 17), hit("e", 16)], T)
    assert match.outcome == "clarify" and [h.id for h in match.choices] == ["a", "b", "c"]


def test_a_runner_up_below_the_floor_is_no_rival() -> None:
    assert judge([hit("a", 20), hit("b", 19, coverage=0.3)], T).outcome == "answer"


def test_a_runner_up_about_the_same_matter_is_no_rival() -> None:
    matters = {"qa.x": "guide.x", "guide.x": "guide.x", "qa.y": "guide.y"}
    match = judge([hit("qa.x", 20), hit("guide.x", 19.5), hit("qa.y", 5)], T, matters.__getitem__)
    assert match.outcome == "answer" and match.best.id == "qa.x"


def test_weak_coverage_asks_even_without_a_rival() -> None:
    match = judge([hit("a", 20, coverage=0.6)], T)
    assert match.outcome == "clarify" and [h.id for h in match.choices] == ["a"]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIONS_CLOSE_RATIO", "0.8")
    assert Settings.from_env().thresholds.close_ratio == 0.8
    monkeypatch.setenv("ACTIONS_CLOSE_RATIO", "much")
    with pytest.raises(ValueError, match="ACTIONS_CLOSE_RATIO"):
        Settings.from_env()


def test_a_best_hit_barely_above_the_score_floor_with_another_matter_just_below_is_no_clear_winner() -> None:
    # A rival need not clear the score floor itself ("贷款": 6.1 for one loan, 5.0 for another).
    match = judge([hit("a", 6.1), hit("b", 5.0)], T)
    # ... but it is not offered as a choice either (below the floor nothing is used).
    assert match.outcome == "clarify" and [h.id for h in match.choices] == ["a"]
    assert [h.id for h in match.near] == ["a", "b"]
    assert judge([hit("a", 6.1), hit("b", 4.0)], T).outcome == "answer"


def test_one_matter_found_by_several_entries_and_nothing_else_is_answered() -> None:
    matters = {"qa.x": "guide.x", "guide.x": "guide.x", "qa.y": "guide.y"}
    # Coverage too low for a clear winner, but the guide and its Q&A agree and no other matter
    # covers enough of the question: no "您想问的是…吗?".
    match = judge([hit("qa.x", 20, 0.6), hit("guide.x", 18, 0.5), hit("qa.y", 9, 0.2)], T, matters.__getitem__)
    # Covering so little, the matter's own entry (the guide) answers, not one specific Q&A.
    assert match.outcome == "answer" and match.best.id == "guide.x"
    # Another matter covering as much: still asked.
    match = judge([hit("qa.x", 20, 0.6), hit("guide.x", 18, 0.5), hit("qa.y", 9, 0.6)], T, matters.__getitem__)
    assert match.outcome == "clarify"


def test_a_rival_outranked_by_two_entries_about_the_best_matter_is_no_tie() -> None:
    matters = {"guide.x": "guide.x", "qa.x1": "guide.x", "qa.x2": "guide.x", "guide.y": "guide.y"}
    hits = [hit("guide.x", 12), hit("qa.x1", 11.7), hit("guide.y", 9.7), hit("qa.x2", 9.0)]
    assert judge(hits, T, matters.__getitem__).outcome == "answer"
    # Corroborating entries below the score floor do not count ("要注销": 6.2, then 5.4, 5.4).
    hits = [hit("guide.x", 6.2), hit("qa.x1", 5.9), hit("guide.y", 5.3)]
    assert judge(hits, T, matters.__getitem__).outcome == "clarify"
    # Only the best itself above the rival: a tie ("迁户口": 迁入 10.5, 迁出 9.2, then 迁入's Q&As).
    hits = [hit("guide.x", 10.5), hit("guide.y", 9.2), hit("qa.x1", 8.5), hit("qa.x2", 8.4)]
    assert judge(hits, T, matters.__getitem__).outcome == "clarify"


def test_a_bundle_of_the_best_hits_matter_is_no_rival() -> None:
    """ "结婚登记要带啥": 婚育一件事 close behind 结婚登记 is not a reason to ask which one was meant;
    another matter as close still is."""
    hits = [hit("guide.marriage", 10.0, 0.9), hit("bundle.marriage-birth", 9.5, 0.9)]
    bundles = {"guide.marriage": frozenset({"bundle.marriage-birth"})}
    match = judge(hits, T, bundles_of=lambda m: bundles.get(m, frozenset()))
    assert match.outcome == "answer" and match.best.id == "guide.marriage"
    assert judge(hits, T).outcome == "clarify"  # without knowing the bundle, a tie as before
    rival = [*hits, hit("guide.divorce", 9.6, 0.9)]
    assert judge(rival, T, bundles_of=lambda m: bundles.get(m, frozenset())).outcome == "clarify"


def test_a_tie_is_settled_only_by_another_reading_that_puts_one_of_the_choices_clearly_first() -> None:
    """The question part ties 购房 and 租房; the whole story (买了房, 还房贷) puts 购房 first."""
    matters = {"guide.buy": "guide.buy", "qa.buy1": "guide.buy", "guide.rent": "guide.rent", "guide.loan": "guide.loan"}
    tie = judge([hit("guide.buy", 10.0, 0.5), hit("guide.rent", 9.0, 0.5)], T, matters.__getitem__)
    assert tie.outcome == "clarify"
    story = [hit("qa.buy1", 12.0, 0.3), hit("guide.loan", 11.0, 0.3), hit("guide.rent", 8.0, 0.2)]
    answer = settled(tie, story, T, matters.__getitem__)
    assert answer is not None and answer.outcome == "answer" and answer.best.id == "guide.buy"
    # Still close in the other reading, a matter it does not offer first, or below the floor: no.
    assert settled(tie, [hit("guide.buy", 12.0), hit("guide.rent", 10.0)], T, matters.__getitem__) is None
    assert settled(tie, [hit("guide.loan", 12.0), hit("guide.buy", 11.0)], T, matters.__getitem__) is None
    assert settled(tie, [hit("guide.buy", 5.0)], T, matters.__getitem__) is None
    assert settled(judge([hit("guide.buy", 20.0)], T), story, T, matters.__getitem__) is None  # nothing to settle


def test_a_hit_titled_with_the_question_itself_is_the_one_asked() -> None:
    hits = [hit("overview", 12.0), hit("materials", 11.5), hit("fee", 11.0)]
    titled = [SearchHit(h.id, "qa", "d", f"社保 转移 {h.id}", "", h.score, "title", 1.0, "") for h in hits]
    assert asked_verbatim(titled, "社保转移 materials？").id == "materials"
    assert asked_verbatim(titled, "社保转移要带啥") is None
    twice = [*titled, SearchHit("again", "qa", "d", "社保 转移 fee", "", 9.0, "title", 1.0, "")]
    assert asked_verbatim(twice, "社保 转移 fee") is None  # two entries ask it: the search decides


def test_a_reply_searched_picks_the_choice_it_puts_clearly_first() -> None:
    matters = {"guide.setup": "guide.setup", "guide.close": "guide.close", "qa.close": "guide.close", "x": "x"}
    offered = ("guide.setup", "guide.close")
    assert ranked_choice(offered, [hit("qa.close", 12.0), hit("guide.setup", 8.0)], T, matters.__getitem__) == 1
    assert ranked_choice(offered, [hit("guide.close", 12.0), hit("guide.setup", 11.0)], T, matters.__getitem__) is None
    assert ranked_choice(offered, [hit("x", 12.0), hit("guide.setup", 8.0)], T, matters.__getitem__) is None
    assert ranked_choice(offered, [hit("guide.setup", 5.0)], T, matters.__getitem__) is None
