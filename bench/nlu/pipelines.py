"""The candidate NLU pipelines, as Rasa config.yml `pipeline:` lists.

Every candidate but `lr_rasajieba` uses the project tokenizer; `lr_rasajieba` is Rasa's own
JiebaTokenizer with the same features, to show what the tokenizer alone is worth.  On the
government data every pipeline also gets the lookup-table entity extractor and the synonym mapper
(entities never come from DIET here: the entity F1 is the regex extractor's, the same for all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "config.yml"

TOKENIZER = {"name": "knowledge_base.nlu_tokenizer.GovJiebaTokenizer"}
WORDS = {"name": "CountVectorsFeaturizer", "analyzer": "word", "ngram_range": [1, 2]}
CHARS_WB = {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}
# char n-grams across word boundaries: Chinese words are short and jieba's cuts vary
CHARS = {"name": "CountVectorsFeaturizer", "analyzer": "char", "min_ngram": 1, "max_ngram": 3}
REGEX_FEATURES = {"name": "RegexFeaturizer", "use_word_boundaries": False}
ENTITIES = [
    {"name": "RegexEntityExtractor", "use_lookup_tables": True, "use_regexes": True, "use_word_boundaries": False},
    {"name": "EntitySynonymMapper"},
]
LINEAR = "knowledge_base.nlu_classifier.LinearIntentClassifier"
# pretrained knowledge shipped inside PyPI wheels (nothing downloaded): Baidu LAC's tags and
# multilingual-e5-small sentence vectors
LAC = {"name": "knowledge_base.nlu_lac_featurizer.LacFeaturizer"}
E5 = {"name": "knowledge_base.nlu_e5_featurizer.E5SentenceFeaturizer", "weight": 2.0}
# each featurizer's n-grams tf-idf'd and L2-normalised on their own: LAC's few tags keep their weight
LINEAR_BLOCKS = {"name": LINEAR, "kind": "svm", "C": 1.0, "tfidf_per_featurizer": True}


def _diet(epochs: int, **extra: Any) -> dict[str, Any]:
    return {"name": "DIETClassifier", "epochs": epochs, "entity_recognition": False, "random_seed": 42, **extra}


def candidates(diet_epochs: int) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """name -> (one-line description, pipeline without the entity components)."""
    light = max(diet_epochs * 4, 20)
    return {
        "config": ("the pipeline of config.yml as committed", config_pipeline()),
        "lr_rasa": (
            "Rasa LogisticRegressionClassifier, word 1-2 + char_wb 1-4 counts",
            [TOKENIZER, WORDS, CHARS_WB, {"name": "LogisticRegressionClassifier"}],
        ),
        "lr_rasajieba": (
            "as lr_rasa but Rasa's own JiebaTokenizer (no user dictionary, no synonyms)",
            [{"name": "JiebaTokenizer"}, WORDS, CHARS_WB, {"name": "LogisticRegressionClassifier"}],
        ),
        "lr_rasa_char": (
            "Rasa LogisticRegressionClassifier, word 1-2 + char 1-3 across word boundaries",
            [TOKENIZER, WORDS, CHARS, {"name": "LogisticRegressionClassifier"}],
        ),
        "lr_regex": (
            "as lr_rasa plus RegexFeaturizer: a feature per lookup table hit (service, element, place)",
            [TOKENIZER, REGEX_FEATURES, WORDS, CHARS_WB, {"name": "LogisticRegressionClassifier"}],
        ),
        "svm_char": (
            "LinearIntentClassifier: tf-idf + LinearSVC (temperature-scaled), word 1-2 + char 1-3",
            [TOKENIZER, WORDS, CHARS, {"name": LINEAR, "kind": "svm", "C": 1.0}],
        ),
        "svm_lac": (
            "as svm_char plus LacFeaturizer: LAC POS/entity-type tags (ORG, nw = title of a work, ...); "
            "tf-idf per featurizer",
            [TOKENIZER, WORDS, CHARS, LAC, LINEAR_BLOCKS],
        ),
        "svm_lac_e5": (
            "as svm_lac plus E5SentenceFeaturizer: multilingual-e5-small sentence vector (x2)",
            [TOKENIZER, WORDS, CHARS, LAC, E5, LINEAR_BLOCKS],
        ),
        "logreg_counts": (
            "LinearIntentClassifier kind=logreg on raw counts (Rasa's LR model, saved with joblib), "
            "word 1-2 + char_wb 1-4",
            [TOKENIZER, WORDS, CHARS_WB, {"name": LINEAR, "kind": "logreg", "tfidf": False, "C": 1.0}],
        ),
        "diet_light": (
            f"DIET without transformer (sparse features -> 2 dense layers), {light} epochs",
            [TOKENIZER, WORDS, CHARS_WB, _diet(light, number_of_transformer_layers=0)],
        ),
        "diet": (
            f"DIET, Rasa defaults (2 transformer layers) but capped at {diet_epochs} epochs",
            [TOKENIZER, WORDS, CHARS_WB, _diet(diet_epochs)],
        ),
    }


def rasa_default_config(language: str, epochs: int) -> dict[str, Any]:
    """Rasa's own default configuration (the default_config.yml inside the installed rasa package,
    what `rasa init` and a config without a pipeline get), NLU only, for a data set's language.
    Its WhitespaceTokenizer refuses Chinese, so for "zh" it is Rasa's JiebaTokenizer instead, the
    tokenizer Rasa's documentation names for Chinese.  DIET's and ResponseSelector's epochs are
    capped at `epochs` (Rasa's default is 100)."""
    import rasa.engine.recipes.default_recipe as recipe

    default = Path(recipe.__file__).parent / "config_files" / "default_config.yml"
    pipeline = yaml.safe_load(default.read_text(encoding="utf-8"))["pipeline"]
    for component in pipeline:
        if component["name"] == "WhitespaceTokenizer" and language == "zh":
            component["name"] = "JiebaTokenizer"
        if "epochs" in component:
            component["epochs"] = min(int(component["epochs"]), epochs)
            component["random_seed"] = 42
    return {"recipe": "default.v1", "language": language, "assistant_id": "bench-nlu", "pipeline": pipeline}


def config_pipeline() -> list[dict[str, Any]]:
    """The pipeline of config.yml, without the entity components (added per data set)."""
    if not CONFIG.exists():
        return []
    pipeline = yaml.safe_load(CONFIG.read_text(encoding="utf-8")).get("pipeline") or []
    entity_names = {c["name"] for c in ENTITIES}
    return [c for c in pipeline if c.get("name") not in entity_names]


def config_yaml_data(pipeline: list[dict[str, Any]], with_entities: bool) -> dict[str, Any]:
    return {
        "recipe": "default.v1",
        "language": "zh",
        "assistant_id": "bench-nlu",
        "pipeline": [*pipeline, *(ENTITIES if with_entities else [])],
        "policies": [],
    }
