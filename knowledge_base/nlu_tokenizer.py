"""Rasa 3.6 tokenizer component over the project's shared tokenizer (knowledge_base.tokenizer).

Use it in config.yml as `- name: knowledge_base.nlu_tokenizer.GovJiebaTokenizer`.

Why not Rasa's own JiebaTokenizer: that one uses jieba's global dictionary (no synonyms) and
emits whitespace tokens, which breaks featurisation and entity alignment (rasa#7910).  Ours
never emits blank or punctuation tokens, keeps the user dictionary's words whole and puts the
canonical synonym into `lemma`, which Rasa's CountVectorsFeaturizer uses by default
(`use_lemma: true`), so "社保" and "社会保险" look alike to the classifier while `text` and the
offsets still point at what the citizen wrote (entities need those).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from .tokenizer import SYNONYMS, USER_DICT, GovTokenizer, shared_tokenizer


def lexicon_fingerprint() -> str:
    """A hash of the user dictionary and the synonym table.  Rasa caches the output of training
    nodes by fingerprint; a changed lexicon must retokenise the training data."""
    digest = hashlib.sha256()
    for path in (USER_DICT, SYNONYMS):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class GovJiebaTokenizer(Tokenizer):
    """jieba + government-services user dictionary + synonym folding, without blank tokens."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # put the canonical synonym into Token.lemma (the featurizers read lemmas)
            "use_canonical_lemma": True,
            # the settings every Rasa tokenizer has
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["zh"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return lexicon_fingerprint()

    def __init__(self, config: dict[str, Any], tokenizer: GovTokenizer | None = None) -> None:
        super().__init__(config)
        self._use_canonical = bool(config.get("use_canonical_lemma", True))
        # Loaded here, at model load, so the first citizen's message does not wait for jieba.
        self._tokenizer = tokenizer or shared_tokenizer()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GovJiebaTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        tokens = [
            Token(t.text, t.start, t.end, lemma=t.norm if self._use_canonical else None)
            for t in self._tokenizer.tokenize(text)
        ]
        tokens += symbol_tokens(text, tokens)
        tokens.sort(key=lambda t: t.start)
        return self._apply_token_pattern(tokens)


def symbol_tokens(text: str, words: list[Token]) -> list[Token]:
    """Emoji and other symbols (Unicode category So, e.g. 👍 👎 🙏) as one-character tokens.

    The shared tokenizer drops them (they mean nothing to search), but in chat a lone 👍 is
    feedback; without a token such a message would have no features at all.  Punctuation and
    whitespace are never symbols, so they still never become tokens."""
    taken = {i for w in words for i in range(w.start, w.end)}
    return [Token(ch, i, i + 1) for i, ch in enumerate(text) if i not in taken and unicodedata.category(ch) == "So"]
