"""The Rasa test stories (tests/rasa/*.yml) through the trained model and the real action server:
every conversation must go exactly as written, user messages parsed by the real NLU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rasa_stack import REPO

pytestmark = pytest.mark.rasa


def test_every_test_story_passes(rasa_stack, tmp_path):
    out = tmp_path / "results"
    result = subprocess.run(
        [
            sys.executable,
            "scripts/rasa_server.py",  # rasa with the project's runtime fixes, as the Procfile starts it
            "test",
            "core",
            "--stories",
            "tests/rasa",
            "--model",
            str(rasa_stack.model_path),
            "--endpoints",
            "endpoints.yml",
            "--out",
            str(out),
            "--no-plot",
        ],
        cwd=REPO,
        env=rasa_stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "story_report.json").read_text())["conversation_accuracy"]
    failed = (out / "failed_test_stories.yml").read_text()
    assert report["total"] >= 40
    assert report["correct"] == report["total"], failed[:4000]
