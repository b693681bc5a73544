"""The benchmark's message set: the hand-written messages plus messages joined from hand-written
fragments by a seeded generator, so that the whole set has the length distribution of real citizen
messages (issue #12: median ≈135 characters, p90 ≈330, max ≈1,200; plus short ones and a few of
1,000–4,000 characters).

Why a generator at all: writing 300 messages whose lengths follow a measured distribution is slow
and people write shorter than citizens do.  The fragments (openings, stories, questions, closings)
are written by hand in citizens' words; the generator only picks and joins them, towards a length
drawn from a log-normal distribution.  The same seed always gives the same set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.load.metrics import percentile

MESSAGES = Path(__file__).with_name("messages.yml")
SEED = 12
COMPOSED = 190  # joined messages, on top of the hand-written ones
VERY_LONG = (1_100, 1_600, 2_400, 3_200)  # target lengths of the few very long letters
HOL_LENGTH = 4_000  # the head-of-line probe


@dataclass(frozen=True)
class Message:
    text: str
    source: str  # "written" (whole, by hand), "composed" (joined fragments) or "letter" (very long)


def load(path: Path = MESSAGES) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data.get("sample") is True, "the message set is sample data and says so"
    return dict(data)


def _questions(data: dict) -> list[str]:
    return [text for texts in data["fragments"]["questions"].values() for text in texts]


def compose(data: dict, rng: random.Random, target: int) -> str:
    """Opening (often) + stories until the target is near + one question + closing (sometimes)."""
    parts = data["fragments"]
    question = rng.choice(_questions(data))
    text = rng.choice(parts["openings"]) if rng.random() < 0.6 else ""
    closing = rng.choice(parts["closings"]) if rng.random() < 0.5 else ""
    stories = rng.sample(parts["stories"], len(parts["stories"]))
    while stories and len(text) + len(question) + len(closing) < target:
        text += stories.pop()
    return text + question + closing


def letter(data: dict, rng: random.Random, target: int) -> str:
    """A very long message: whole long messages, stories and questions, cut at a sentence end."""
    pieces = [text for text in data["messages"] if len(text) > 200] + list(data["fragments"]["stories"])
    pieces += _questions(data)
    text = ""
    while True:  # add whole pieces that still fit; stop when none does
        fitting = [piece for piece in pieces if len(text) + len(piece) <= target]
        if not fitting:
            break
        text += rng.choice(fitting)
    return text if text else pieces[0][:target]


def message_set(seed: int = SEED, path: Path = MESSAGES) -> list[Message]:
    """Every message of the benchmark, in a fixed order (the driver shuffles per citizen)."""
    data = load(path)
    rng = random.Random(seed)
    found = [Message(text, "written") for text in data["messages"]]
    for _ in range(COMPOSED):
        target = min(1_200, max(40, int(rng.lognormvariate(5.25, 0.55))))
        found.append(Message(compose(data, rng, target), "composed"))
    found += [Message(letter(data, rng, target), "letter") for target in VERY_LONG]
    return found


def hol_message(seed: int = SEED, path: Path = MESSAGES) -> str:
    """The 4,000-character message sent while others chat (the head-of-line probe)."""
    return letter(load(path), random.Random(seed + 1), HOL_LENGTH)


def length_stats(lengths: list[int]) -> dict[str, float]:
    ordered = sorted(lengths)
    return {
        "count": len(ordered),
        "median": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "max": ordered[-1],
        "short_share": sum(2 <= n <= 20 for n in ordered) / len(ordered),
        "over_1000": sum(n >= 1_000 for n in ordered),
    }


if __name__ == "__main__":
    messages = message_set()
    print(length_stats([len(m.text) for m in messages]))
    for source in ("written", "composed", "letter"):
        chosen = [len(m.text) for m in messages if m.source == source]
        print(source, length_stats(chosen))
    print("hol", len(hol_message()))
