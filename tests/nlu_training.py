"""Training config.yml's NLU pipeline for a test, from scratch, on the data in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def trained_agent(work: Path, data: Path) -> Any:
    """A Rasa Agent with config.yml's pipeline (no dialogue policies) trained on `data`."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    config["policies"] = []  # NLU only: the dialogue policies are not under test here
    (work / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("RASA_CACHE_DIRECTORY", str(work / "cache"))  # train from scratch: no shared cache
    mp.setenv("RASA_TELEMETRY_ENABLED", "false")
    try:
        model = train_nlu(str(work / "config.yml"), str(data), str(work / "models"), fixed_model_name="nlu")
    finally:
        mp.undo()
    assert model, "Rasa produced no model"
    return Agent.load(model)
