"""The retrainer's one-at-a-time rule with a real subprocess that waits for a gate file, so the
test decides when "training" ends (no timing): a change during a run queues exactly one more."""

from __future__ import annotations

from functools import partial

from staff_helpers import training_status_when

from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import Guide
from knowledge_base.store import Store

# Waits until the gate file exists (argv[1]); {lookups} and {out} are passed and ignored.
GATED = (
    '{python} -c "import os, sys, time; '
    '[time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]" GATE {lookups} {out}'
)


wait_for = partial(training_status_when, timeout=120.0, poll=0.1)


async def test_a_change_during_training_queues_one_more_run(start_bot, staff, kb_copy, tmp_path):
    gate = tmp_path / "gate"
    command = GATED.replace("GATE", str(gate))
    bot = await start_bot(retrain="on", retrain_poll=0.2, retrain_command=command, retrain_dir=tmp_path / "retrain")
    reviewer = await staff(bot, "审核人老张", "reviewer")
    await wait_for(reviewer, lambda s: s["current"] is not None)
    kb = KnowledgeBase(Store(kb_copy))
    template = next(e for e in kb.store.all("guide") if isinstance(e, Guide))

    await kb.publish([template.copy(update={"id": "guide.queue-one", "title": "排队测试事项一", "aliases": []})])
    await wait_for(reviewer, lambda s: s["state"] == "training")
    await kb.publish([template.copy(update={"id": "guide.queue-two", "title": "排队测试事项二", "aliases": []})])
    await kb.publish([template.copy(update={"id": "guide.queue-three", "title": "排队测试事项三", "aliases": []})])
    queued = await wait_for(reviewer, lambda s: s["queued"])
    assert queued["runs"] == 1

    gate.write_text("open")  # the "training" ends: it made no model, so the run fails
    done = await wait_for(reviewer, lambda s: s["runs"] == 2 and s["state"] == "idle" and not s["queued"])
    assert done["last_run"]["result"] == "failed" and "没有产出模型" in done["last_run"]["message"]
    assert done["last_run"]["reason"] == "训练期间知识库又有更新"
    assert done["current"]["model"] is None  # the old model is still the current one
