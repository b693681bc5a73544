"""The cluster dies mid-run and comes back: a node of the test's own (../shared/opensearch),
killed by its PIDs while citizens keep asking, then started again on the same port and data."""

from __future__ import annotations

import asyncio
import time

import pytest
from elastic_fixtures import es_knowledge_base, es_settings, served

from knowledge_base.models import QA

pytest_plugins = ["elastic_fixtures"]  # es_url, opensearch_node
pytestmark = pytest.mark.opensearch

QUERIES = ["怎么申请低保", "社保卡丢了补办", "个体户营业执照能在网上办吗", "公积金怎么取", "新生儿上户口要带什么"]


async def wait_until(condition, what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.2)


async def test_cluster_killed_mid_run_falls_back_then_recovers(kb, opensearch_node, caplog):
    settings = es_settings(opensearch_node.url, "jsb-kb-outage", es_timeout=2.0, es_health_interval=0.5)
    es = es_knowledge_base(kb, settings)
    await es.backend.start()
    assert es.backend.health()["serving"] == "elasticsearch"

    stop = asyncio.Event()
    answers: list[int] = []

    async def citizen(number: int) -> None:
        while not stop.is_set():
            hits = await es.search(QUERIES[number % len(QUERIES)], top_k=3)  # must never raise
            answers.append(len(hits))
            number += 1
            await asyncio.sleep(0.01)

    citizens = [asyncio.create_task(citizen(i)) for i in range(3)]
    await wait_until(lambda: served(es)["elasticsearch"] >= 20, "queries answered by the cluster")

    await asyncio.to_thread(opensearch_node.kill)  # node and proxy, by PID, mid-run
    await wait_until(lambda: served(es)["embedded"] >= 20, "queries answered by the fallback")
    health = es.backend.health()
    assert health["serving"] == "embedded" and not health["healthy"]
    assert "cannot connect" in health["reason"] or "no answer" in health["reason"]
    assert "Answering from the embedded index" in caplog.text

    # Staff publish while the cluster is away: the store has it, the index catches up later.
    entry = QA(
        id="qa.test.outage-notice",
        domain="general",
        question="停电期间大厅还办业务吗",
        similar=["停电了还能办事吗", "大厅停电怎么办", "停电还开门吗"],
        answer="停电期间大厅照常开放，自助机暂停使用。",
    )
    await es.publish([entry])
    assert es.backend.health()["pending"] == 1
    [hit] = await es.search("停电期间大厅还办业务吗", top_k=1)  # the fallback is current
    assert hit.id == entry.id

    await asyncio.to_thread(opensearch_node.start)  # same port, same data folder
    # The periodic health check notices, writes the pending entry, compares, and serves again.
    await wait_until(lambda: es.backend.health()["serving"] == "elasticsearch", "the cluster to serve again")
    stop.set()
    await asyncio.gather(*citizens)  # re-raises anything a citizen would have seen
    assert answers and all(count > 0 for count in answers)

    before = served(es)["elasticsearch"]
    [hit] = await es.search("停电期间大厅还办业务吗", top_k=1)
    assert hit.id == entry.id and served(es)["elasticsearch"] == before + 1
    assert es.backend.health()["pending"] == 0
    await es.close()
