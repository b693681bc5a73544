"""The one Chinese tokenizer of the project, shared by search (both backends) and Rasa NLU.

jieba with a government-services user dictionary (`lexicon/userdict.txt`) and a synonym table
(`lexicon/synonyms.yml`).  Synonyms are folded to one canonical term on both sides, at index time
and at query time, so "社保" and "社会保险" are the same word to every component.

Whitespace and punctuation never become tokens (jieba's own tokenizer emits them, the cause of
Rasa's JiebaTokenizer whitespace-token bug, rasa#7910).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import yaml

LEXICON_DIR = Path(__file__).parent / "lexicon"
USER_DICT = LEXICON_DIR / "userdict.txt"
SYNONYMS = LEXICON_DIR / "synonyms.yml"

# A token must contain at least one letter, digit or CJK character.
_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff]")

# Words that carry no meaning for retrieval (search only; NLU keeps them, they signal intent).
STOPWORDS = frozenset(
    (
        "的 了 吗 呢 吧 啊 呀 哦 嘛 么 我 你 您 他 她 我们 你们 是 在 "
        "有 和 与 及 或 就 都 也 还 要 想 请问 请 问 问下 问一下 一下 下 "
        "个 这个 那个 这 那 什么 怎么 怎么样 怎样 如何 咋 咋办 哪 哪里 哪儿 "
        "能 能不能 可以 事情 事儿 啥 咋样 带 怎么办 咋弄 怎么弄 怎么搞 咋整 "
        "可不可以 需要 需不需要 办 办理 弄 搞 去 来 给 帮 帮我 一个 现在 "
        "今天 我想 想问 您好 你好 谢谢 麻烦 好 得 着 过 被 把 让 从 到 对 "
        "为 如果 因为 所以 但是 然后 哪些 多少 几 没 没有 不 是否 行 行不行 "
        "时候 "
        # dialect pronouns and fillers (俺 = 我, 咱 = 我们): they only dilute a question's coverage
        "俺 俺们 俺家 咱 咱们 恁 俩 它 它们"
    ).split()
)
# "咋" (= 怎么) glued to the verb by jieba ("咋领", "咋查"): the verb is the term.
_DIALECT_HOW = "咋"

logging.getLogger("jieba").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Token:
    text: str  # the word as written in the message
    start: int  # character offsets in the original text, as Rasa needs them
    end: int
    norm: str  # canonical form after synonym folding and lower-casing


@lru_cache(maxsize=1)
def synonym_table() -> dict[str, str]:
    """variant (lower-cased) -> canonical term."""
    raw = yaml.safe_load(SYNONYMS.read_text(encoding="utf-8")) or {}
    table: dict[str, str] = {}
    for canonical, variants in raw.items():
        table[str(canonical).lower()] = str(canonical)
        for variant in variants or []:
            table[str(variant).lower()] = str(canonical)
    return table


def canonical(word: str) -> str:
    """The canonical form of one word (itself when it has no synonym)."""
    lowered = word.lower()
    return synonym_table().get(lowered, lowered)


class GovTokenizer:
    """A jieba tokenizer of its own (not jieba's global one), loaded once per process."""

    def __init__(self, extra_words: list[str] | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.load_userdict(str(USER_DICT))
        for word in synonym_table():
            if " " not in word:
                self._jieba.add_word(word, freq=1000)
        for word in extra_words or []:
            self._jieba.add_word(word, freq=1000)
        self._lock = threading.Lock()  # jieba's lazy initialisation is not thread-safe

    def tokenize(self, text: str) -> list[Token]:
        """Words with offsets, for NLU: no blank or punctuation tokens."""
        with self._lock:
            pieces = list(self._jieba.tokenize(text, HMM=True))
        return [Token(word, start, end, canonical(word)) for word, start, end in pieces if _WORDLIKE.search(word)]

    def search_terms(self, text: str) -> list[str]:
        """Canonical terms for retrieval: stopwords dropped, long words also split into the
        dictionary words inside them (so "个体工商户设立登记" also matches "登记")."""
        terms: list[str] = []
        freq = self._jieba.FREQ
        for token in self.tokenize(text):
            norm = token.norm
            if len(norm) > 1 and norm.startswith(_DIALECT_HOW) and norm not in STOPWORDS:
                norm = canonical(norm[1:])
            if norm in STOPWORDS or token.text in STOPWORDS:
                continue
            terms.append(norm)
            word = norm  # split the canonical form, so a variant and its canonical term match alike
            if len(word) > 2:
                for size in (2, 3):
                    for i in range(len(word) - size + 1):
                        part = word[i : i + size]
                        if part != word and freq.get(part) and part not in STOPWORDS:
                            sub = canonical(part)
                            if sub != norm:
                                terms.append(sub)
        return terms


_shared: GovTokenizer | None = None
_shared_lock = threading.Lock()


def shared_tokenizer() -> GovTokenizer:
    """The process-wide tokenizer (jieba takes about a second to load its dictionary)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = GovTokenizer()
            _shared.tokenize("预热")  # load the dictionary now, not on the first citizen's message
        return _shared
