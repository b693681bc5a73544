"""Background retrain: a new service name in the knowledge base is trained into a new model and
swapped into a running Rasa over its HTTP API; a failed training keeps the old model.

These tests start their own Rasa server (the session's `rasa_stack` is shared by other tests and
must keep its model); the trained model is copied so the cached one is never replaced."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rasa_stack import RasaStack, train_model
from staff_helpers import training_status_when

from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import Guide
from knowledge_base.store import Store

pytestmark = pytest.mark.rasa

NEW_NAME = "民用无人机实名登记"
QUESTION = f"我想办{NEW_NAME}"
WAIT_S = 1500.0  # generous: training shares two cores with other test processes


@pytest.fixture(scope="module")
def own_rasa(tmp_path_factory: pytest.TempPathFactory, loaded_db: Path) -> Iterator[RasaStack]:
    """A Rasa server of these tests only, on a copy of the trained model."""
    workdir = tmp_path_factory.mktemp("retrain-rasa")
    model = workdir / "start-model.tar.gz"
    shutil.copy(train_model(), model)
    stack = RasaStack(model, loaded_db, workdir)
    stack.start_rasa()
    yield stack
    stack.stop()


async def rasa_get(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


async def services_in(rasa: RasaStack, text: str) -> list[str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rasa.rasa_url}/model/parse", json={"text": text}) as response:
            assert response.status == 200
            parsed = await response.json()
    return [e["value"] for e in parsed["entities"] if e["entity"] == "service"]


wait_for = partial(training_status_when, timeout=WAIT_S, poll=0.5)


def settled(status: dict[str, Any]) -> bool:
    run = status["last_run"]
    return status["state"] == "idle" and run is not None and run["result"] != "running"


async def test_a_failed_training_keeps_the_old_model_and_says_why(start_bot, staff, own_rasa, tmp_path):
    before = (await rasa_get(f"{own_rasa.rasa_url}/status"))["model_file"]
    # A config file Rasa cannot build a pipeline from (a missing one, Rasa replaces by its default).
    config = tmp_path / "broken-config.yml"
    config.write_text("language: zh\npipeline:\n  - name: NoSuchComponent\npolicies: []\n", encoding="utf-8")
    broken = (
        f"{{python}} -m rasa train --config {config} --domain domain.yml --data nlu_data {{lookups}} "
        "--out {out} --fixed-model-name jishiban"
    )
    bot = await start_bot(rasa_url=own_rasa.rasa_url, retrain_command=broken, retrain_dir=tmp_path / "retrain")
    reviewer = await staff(bot, "审核人老张", "reviewer")
    editor = await staff(bot, "编辑小王", "editor")
    assert (await editor.get("/api/kb/training"))[0] == 403

    status, _ = await reviewer.post("/api/kb/training/run", {"force": True})
    assert status == 202
    result = await wait_for(reviewer, settled)
    run = result["last_run"]
    assert run["result"] == "failed" and "仍在使用原来的模型" in run["message"], run
    assert any("NoSuchComponent" in line for line in run["log_tail"]), run["log_tail"]
    assert (await rasa_get(f"{own_rasa.rasa_url}/status"))["model_file"] == before
    assert await services_in(own_rasa, "个体工商户设立登记要带什么") == ["个体工商户设立登记"]


async def test_a_new_service_name_is_recognised_after_the_swap(start_bot, staff, own_rasa, kb_copy, tmp_path):
    assert NEW_NAME not in await services_in(own_rasa, QUESTION)
    before = (await rasa_get(f"{own_rasa.rasa_url}/status"))["model_id"]
    models = tmp_path / "models"
    bot = await start_bot(
        rasa_url=own_rasa.rasa_url,
        retrain="on",
        retrain_poll=0.5,
        retrain_dir=tmp_path / "retrain",
        retrain_models_dir=models,
    )
    reviewer = await staff(bot, "审核人老张", "reviewer")
    await wait_for(reviewer, lambda s: s["current"] is not None)  # the watcher knows the model's names

    kb = KnowledgeBase(Store(kb_copy))
    template = next(e for e in kb.store.all("guide") if isinstance(e, Guide))
    await kb.publish([template.copy(update={"id": "guide.drone-registration", "title": NEW_NAME, "aliases": []})])

    result = await wait_for(reviewer, lambda s: s["runs"] >= 1 and settled(s))
    run = result["last_run"]
    assert run["result"] == "swapped", run
    loaded = await rasa_get(f"{own_rasa.rasa_url}/status")
    assert loaded["model_id"] != before and loaded["model_file"] == Path(run["model"]).name
    assert NEW_NAME in await services_in(own_rasa, QUESTION)
    assert (models / "jishiban.tar.gz").is_file()
    assert result["current"]["fingerprint"] == run["fingerprint"]

    # Nothing NLU sees changed: no training.
    status, _ = await reviewer.post("/api/kb/training/run", {})
    assert status == 202
    result = await wait_for(reviewer, lambda s: s["runs"] >= 2 and settled(s))
    assert result["last_run"]["result"] == "unchanged"
