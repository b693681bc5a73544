"""scripts/train.sh skips Rasa (and its ~20 s check) when nothing the model is made from changed,
and hands any difference to Rasa as before."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from rasa_stack import MODELS, REPO, train_model

pytestmark = pytest.mark.rasa


def run_train(models: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RASA_MODELS_DIR": str(models), "JSB_DATA_DIR": str(data_dir)}
    env.pop("KB_DB", None)  # the curated data files, as tests/rasa_stack.py trains
    return subprocess.run(
        [str(REPO / "scripts" / "train.sh")], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture
def trained_copy(tmp_path: Path) -> Path:
    train_model()
    models = tmp_path / "models"
    models.mkdir()
    with (MODELS / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("jishiban.tar.gz", "jishiban.inputs.sha256"):
            shutil.copy2(MODELS / name, models / name)
    return models


def test_nothing_changed_skips_rasa(trained_copy: Path, tmp_path: Path):
    before = (trained_copy / "jishiban.tar.gz").stat().st_mtime_ns
    result = run_train(trained_copy, tmp_path / "data")  # another data folder, the same content
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nothing changed since" in result.stdout
    assert "training the assistant" not in result.stdout
    assert (trained_copy / "jishiban.tar.gz").stat().st_mtime_ns == before


def test_a_different_digest_goes_to_rasa(trained_copy: Path, tmp_path: Path):
    stamp = trained_copy / "jishiban.inputs.sha256"
    right = stamp.read_text()
    stamp.write_text("0" * 64 + "\n")  # as if an input had changed since
    result = run_train(trained_copy, tmp_path / "data")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training the assistant" in result.stdout
    assert stamp.read_text() == right  # Rasa's run leaves the stamp of the current inputs
