"""The part of a long citizen message that holds the question.

Citizens often tell a story before they ask ("俺家孩子今年九月上小学，俺们是去年搬过来的，户口还在
老家，想问问上学要准备啥材料？").  Searching or encoding the whole story lets the story's words
(places, relatives, dates) outvote the question's.  `question_part` keeps the sentence or clause
that asks — the one with question words (咋/怎么/啥/多少/哪/吗/能不能…), service words (办/补办/
证/执照…) and element cues (材料/多久/费用…) — plus its neighbour when that clause alone is too
short to stand on its own ("咋办？").  A short message is returned whole.

Pure string work (no model, no tokenizer), so it is fast and can run before the sentence encoder
to bound its input.  The rest of the message is not lost: callers still read places and persons
from the whole text.
"""

from __future__ import annotations

import re

DEFAULT_MAX_CHARS = 48

# Sentence ends, then clause separators inside a sentence.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])")
_CLAUSE_END = re.compile(r"(?<=[，,、：:～~])|(?<=\s)")
_QUESTION_MARK = re.compile(r"[？?]\s*$")

QUESTION_WORDS = tuple(
    (
        "咋 怎么 怎样 如何 啥 什么 多少 多久 多长 几天 哪 吗 么 呢 能不能 "
        "能否 可不可以 可以不 要不要 需不需要 用不用 是不是 有没有 行不行 中不中 "
        "请问 想问 问问 问一下 问下"
    ).split()
)
SERVICE_WORDS = tuple(
    (
        "办 申请 补 换 领 登记 注册 注销 变更 开 缴 交 报销 证 照 卡 户口 "
        "户籍 社保 医保 公积金 养老 低保 补贴 入学 上学 预约 手续"
    ).split()
)
ELEMENT_WORDS = tuple(
    (
        "材料 资料 证件 条件 资格 流程 步骤 时间 时限 多久 几天 费用 收费 钱 地点 地址 窗口 在哪 电话 网上 线上 手机上"
    ).split()
)
# Clauses that tell the story rather than ask: they lose to an asking clause of equal weight.
STORY_WORDS = tuple("俺住 我住 住在 家在 我家 俺家 去年 前几天 上个月 以前 之前 当时 后来".split())


def _hits(text: str, words: tuple[str, ...]) -> int:
    return sum(1 for word in words if word in text)


def score(clause: str) -> float:
    """How much a clause looks like the question: question words weigh most, then element cues,
    then service words; story openers count against it."""
    value = 3.0 * min(_hits(clause, QUESTION_WORDS), 2)
    value += 2.0 * min(_hits(clause, ELEMENT_WORDS), 2)
    value += 1.0 * min(_hits(clause, SERVICE_WORDS), 3)
    if _QUESTION_MARK.search(clause):
        value += 2.0
    value -= 1.5 * min(_hits(clause, STORY_WORDS), 2)
    return value


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [part.strip() for part in pattern.split(text) if part.strip()]


def clauses(text: str) -> list[str]:
    """Sentences split further into clauses, in order."""
    out: list[str] = []
    for sentence in _split(text, _SENTENCE_END):
        out.extend(_split(sentence, _CLAUSE_END))
    return out


def _window(text: str, max_chars: int) -> str:
    """At most max_chars of one long clause, centred on its last question word (the ask is usually
    at the end of a run-on sentence)."""
    positions = [text.rfind(word) for word in QUESTION_WORDS + ELEMENT_WORDS if word in text]
    anchor = max(positions) if positions else len(text)
    end = min(len(text), anchor + max_chars // 3)
    start = max(0, end - max_chars)
    return text[start : start + max_chars]


MIN_CLAUSE_CHARS = 6  # a shorter asking clause ("得花钱不", "咋办？") leans on the one before


def asking_clause(text: str) -> str:
    """The one clause of `text` that asks (with the clause before it when it is too short to name
    anything), whatever the message's length: "俺在曲堤开了个小超市 个体执照咋办" -> "个体执照咋办".
    The text itself when it has a single clause."""
    parts = clauses(" ".join(text.split()))
    if len(parts) < 2:
        return text.strip()
    scores = [score(p) for p in parts]
    best = max(range(len(parts)), key=lambda i: (scores[i], i))  # ties: the later clause
    start = best
    while start > 0 and len("".join(parts[start : best + 1])) < MIN_CLAUSE_CHARS:
        start -= 1
    return "".join(parts[start : best + 1])


def question_part(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The clause(s) of `text` that ask the question, at most `max_chars` characters.

    A message of at most `max_chars` characters (after trimming) is returned whole; so is one
    with a single clause, cut to `max_chars` around its question word."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    parts = clauses(text)
    if not parts:
        return text[:max_chars]
    scores = [score(p) for p in parts]
    # The best clause; on ties the later one (the question usually comes after the story).
    best = max(range(len(parts)), key=lambda i: (scores[i], i))
    start, end = best, best + 1
    chosen = parts[best]
    # Grow with neighbours that also ask or name the service, or while the clause is too short to
    # stand alone ("咋办？"), preferring the clause before (it usually names the matter).
    while True:
        grown = False
        for candidate in (start - 1, end):
            if not 0 <= candidate < len(parts):
                continue
            joined = "".join(parts[min(start, candidate) : max(end, candidate + 1)])
            if len(joined) > max_chars:
                continue
            if scores[candidate] > 0 or len(chosen) < max_chars // 4:
                start, end = min(start, candidate), max(end, candidate + 1)
                chosen = joined
                grown = True
                break
        if not grown:
            break
    return chosen if len(chosen) <= max_chars else _window(chosen, max_chars)
