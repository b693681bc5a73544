"""The NLU benchmark's cross-dataset check (issue #13): its data split, Rasa's default pipeline and
the report section it rewrites.  Fast; nothing is trained here (the benchmark does that)."""

from __future__ import annotations

import json

import yaml

from bench.nlu import pipelines, report
from bench.nlu.__main__ import _split_yaml, rasa_init_nlu


def _examples(path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    return [(item["intent"], line[2:]) for item in data for line in item["examples"].splitlines() if line.strip()]


def test_rasa_init_split_holds_out_a_third_of_every_intent(tmp_path):
    train, test = tmp_path / "train.yml", tmp_path / "test.yml"
    _split_yaml(rasa_init_nlu(), train, test, test_every=3)
    kept, held = _examples(train), _examples(test)
    assert not set(kept) & set(held)
    assert {i for i, _ in kept} == {i for i, _ in held}
    assert len(held) * 3 <= len(kept) + len(held) < len(held) * 3 + 3 * len({i for i, _ in held})


def test_rasa_default_pipeline_is_rasas_own_with_a_chinese_tokenizer_for_chinese():
    zh, en = pipelines.rasa_default_config("zh", 20), pipelines.rasa_default_config("en", 100)
    names = [c["name"] for c in zh["pipeline"]]
    assert names[0] == "JiebaTokenizer" and "DIETClassifier" in names and "FallbackClassifier" in names
    assert en["pipeline"][0]["name"] == "WhitespaceTokenizer" and en["language"] == "en"
    assert {c["epochs"] for c in zh["pipeline"] if "epochs" in c} == {20}
    assert {c["epochs"] for c in en["pipeline"] if "epochs" in c} == {100}


def _result(dataset: str, pipeline: str, macro: float) -> dict:
    return {
        "dataset": dataset,
        "pipeline": pipeline,
        "macro_f1": macro,
        "weighted_f1": macro,
        "accuracy": macro,
        "train_s": 1.0,
        "load_average": 2.0,
        "n_train": 10,
        "n_test": 5,
        "epochs": 20,
    }


def test_cross_section_replaces_only_itself(tmp_path):
    results = tmp_path / "cross"
    results.mkdir()
    (results / "gov__config.json").write_text(json.dumps(_result("gov", "config", 0.9)))
    (results / "rasa_init__rasa_default.json").write_text(json.dumps(_result("rasa_init", "rasa_default", 0.6)))
    path = tmp_path / "REPORT.md"
    path.write_text("# NLU\n\n## A\n\ntable\n\n## Reading the numbers\n\n- text\n", encoding="utf-8")
    report.write_cross_section(results, path)
    first = path.read_text(encoding="utf-8")
    assert first.index("## A") < first.index("Cross-dataset check") < first.index("## Reading the numbers")
    assert "| `config` | 0.900 |" in first and "`rasa_default` (20 epochs) | 0.600 |" in first
    (results / "gov__config.json").write_text(json.dumps(_result("gov", "config", 0.8)))
    report.write_cross_section(results, path)
    second = path.read_text(encoding="utf-8")
    assert second.count("Cross-dataset check") == 1 and "| `config` | 0.800 |" in second
    assert second.replace("0.800", "0.900") == first
