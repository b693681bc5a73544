"""The load benchmark's pure parts: its message set follows the length distribution it claims,
its messages are the project's own words, and its arithmetic (percentiles, CPU per turn, the
head-of-line delay) is right.  No stack is started."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.load import metrics
from bench.load.messages import HOL_LENGTH, hol_message, length_stats, load, message_set
from bench.load.run import Level, Script, Turn, _is_apology
from bot import texts

KB_DATA = Path(__file__).resolve().parent.parent / "knowledge_base" / "data"


@pytest.fixture(scope="module")
def lengths() -> list[int]:
    return [len(message.text) for message in message_set()]


def test_message_set_has_the_real_length_distribution(lengths: list[int]) -> None:
    stats = length_stats(lengths)
    assert stats["count"] >= 300
    assert 120 <= stats["median"] <= 150  # real citizens: ≈135
    assert 290 <= stats["p90"] <= 380  # ≈330
    assert 0.08 <= stats["short_share"] <= 0.25  # "你好", "那要多少钱", "转人工"
    assert 3 <= stats["over_1000"] <= 8  # a few very long ones
    assert max(lengths) <= 4_000  # BOT_MAX_MESSAGE_CHARS


def test_enough_messages_are_written_whole_and_marked_as_sample() -> None:
    data = load()
    assert data["sample"] is True
    assert len(data["messages"]) >= 120
    assert len(set(data["messages"])) == len(data["messages"])


def test_the_generator_is_seeded() -> None:
    assert [m.text for m in message_set(seed=3)] == [m.text for m in message_set(seed=3)]
    assert [m.text for m in message_set(seed=3)] != [m.text for m in message_set(seed=4)]


def test_the_long_probe_is_4000_characters() -> None:
    assert HOL_LENGTH - 200 <= len(hol_message()) <= HOL_LENGTH


def _kb_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _kb_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _kb_strings(item)]
    return []


def test_no_message_copies_a_kb_wording() -> None:
    """No 20-character stretch of any KB text appears in a message (never copy KB wordings)."""
    kb = [s for path in KB_DATA.glob("*.yml") for s in _kb_strings(yaml.safe_load(path.read_text(encoding="utf-8")))]
    shingles = {text[i : i + 20] for text in kb for i in range(len(text) - 19)}
    data = load()
    pieces = list(data["messages"]) + _kb_strings(data["fragments"])
    copied = [piece for piece in pieces if any(piece[i : i + 20] in shingles for i in range(len(piece) - 19))]
    assert copied == []


@pytest.mark.parametrize("q", [0, 1, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = [random.Random(q).lognormvariate(0, 1) for _ in range(101)]
    assert metrics.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_small_cases() -> None:
    assert math.isnan(metrics.percentile([], 50))
    assert metrics.percentile([7], 99) == 7
    assert metrics.percentile([1, 2, 3, 4], 50) == 2.5


def test_cpu_ms_per_turn() -> None:
    before = {"rasa": 10.0, "bot": 2.0}
    after = {"rasa": 13.0, "bot": 2.5, "actions": 0.2}  # a role without a reading before starts at 0
    assert metrics.cpu_ms_per_turn(before, after, 20) == pytest.approx({"rasa": 150.0, "bot": 25.0, "actions": 10.0})
    assert all(math.isnan(v) for v in metrics.cpu_ms_per_turn(before, after, 0).values())


def test_head_of_line_delay_is_the_difference_of_medians_in_ms() -> None:
    assert metrics.head_of_line_delay([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]) == pytest.approx(300.0)


def test_level_summary_counts_replies_pending_and_errors() -> None:
    level = Level("jishiban", 2, 10.0, wall=10.0)
    level.turns = [
        Turn(0, "rest", 10, 0.0, 0.2, "answered"),
        Turn(1, "widget", 10, 0.0, 4.0, "pending"),
        Turn(0, "rest", 10, 1.0, 0.0, "error:ClientError"),
        Turn(1, "widget", 10, 5.0, 0.4, "answered"),
        Turn(0, "rest", 10, 6.0, 0.1, "for_helper"),  # went to a helper: not a turn Rasa answered
    ]
    level.cpu_before, level.cpu_after = {"rasa": 1.0}, {"rasa": 1.6}
    summary = level.summary()
    assert summary["turns"] == 5
    assert summary["for_helper"] == 1
    assert summary["turns_per_s"] == pytest.approx(0.3)  # three replies in 10 s; the error is not one
    assert summary["answered_per_s"] == pytest.approx(0.2)
    assert summary["pending_share"] == pytest.approx(0.2)
    assert summary["errors"] == 1
    assert summary["cpu_ms_per_turn"]["rasa"] == pytest.approx(200.0)
    assert summary["p50_ms"] == pytest.approx(400.0)


def test_apologies_are_told_apart_from_answers() -> None:
    assert _is_apology({"kind": "notice", "text": texts.APOLOGY})
    assert _is_apology({"kind": "notice", "text": texts.STILL_QUEUED})
    assert not _is_apology({"kind": "text", "text": "您好"})
    assert not _is_apology({"kind": "notice", "text": texts.LATE_ANSWER.format(question="你好")})


def test_script_walks_every_message_before_repeating() -> None:
    script = Script(["a", "b", "c"], seed=1)
    first = [script.next() for _ in range(3)]
    assert sorted(first) == ["a", "b", "c"]
    assert [script.next() for _ in range(3)] == first


def test_latency_by_length_bucket() -> None:
    found = metrics.by_length([(2, 0.1), (10, 0.3), (135, 1.0), (4_000, 9.0)])
    assert found["1–20"] == {"turns": 2, "p50_ms": pytest.approx(200.0), "p95_ms": pytest.approx(290.0)}
    assert found["21–135"]["turns"] == 1
    assert "136–330" not in found
    assert found["1000–4000"]["p50_ms"] == pytest.approx(9000.0)
