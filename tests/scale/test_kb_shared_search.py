"""The knowledge base of two service processes searched on one OpenSearch index
(KB_BACKEND=elasticsearch, docs/elasticsearch.md): what staff publish through one process is
found by the other's search at once, answered by the cluster (not by the process's own embedded
index), and an entry withdrawn through one is gone from the other's results.

The processes share the store file as two instances on one host do; the store on PostgreSQL
(KB_DB_URL, for instances on several hosts) is the next step of issue #15 (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from elastic_fixtures import plain_client

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
QUERY = "冬季供暖报修电话"
ENTRY = {
    "id": "qa.test.scale-heating",
    "domain": "general",
    "question": "冬季供暖报修电话是多少",
    "similar": ["暖气不热找谁报修", "供暖报修打哪个电话", "冬季供暖有问题怎么报修"],
    "answer": "济阳城区供暖报修请拨打热力公司24小时热线。",
    "keywords": ["供暖", "报修"],
}


class KbProcess:
    """`python tests/scale/kb_process.py`: one KB instance, one JSON command per line."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.log = (workdir / f"{name}.log").open("ab")
        self.process = subprocess.Popen(
            ["nice", sys.executable, str(HERE / "kb_process.py")],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.ready = self._read()["ready"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while line := self.process.stdout.readline():
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"the KB process ended (exit {self.process.wait()}); log: {self.log.name}")

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        return self._read()

    def search(self, query: str) -> tuple[list[dict[str, Any]], int]:
        """The hits, and how many queries so far the cluster answered."""
        answer = self.ask(op="search", q=query)
        return answer["hits"], answer["served"].get("elasticsearch", 0)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # end of input: the process closes its clients and exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
async def two_instances(loaded_db: Path, search_url: str, tmp_path: Path) -> Any:
    kb_db = tmp_path / "kb.sqlite3"
    shutil.copy(loaded_db, kb_db)
    prefix = f"jsbscale-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "JSB_DATA_DIR": str(tmp_path),
        "KB_DB": str(kb_db),
        "KB_BACKEND": "elasticsearch",
        "KB_ES_URL": search_url,
        "KB_ES_INDEX_PREFIX": prefix,
        "KB_ES_TIMEOUT": "10",  # a busy test machine: a slow answer must not fall back to the embedded index
        "OMP_NUM_THREADS": "1",
    }
    started: list[KbProcess] = []
    try:
        for name in ("a", "b"):  # one after the other: the first builds the index, the second finds it
            started.append(KbProcess(name, env, tmp_path))
        yield started
    finally:
        for process in started:
            process.stop()
        client = plain_client(search_url)
        try:
            await client.options(ignore_status=404).indices.delete(index=f"{prefix}.v*")
        finally:
            await client.close()


def ids(hits: list[dict[str, Any]]) -> list[str]:
    return [hit["id"] for hit in hits]


async def test_a_publish_on_one_instance_is_found_by_the_others_search_at_once(two_instances: Any) -> None:
    a, b = two_instances
    assert a.ready["serving"] == b.ready["serving"] == "elasticsearch", (a.ready, b.ready)
    assert a.ready["index"] == b.ready["index"]  # one index, found by the second process

    hits, _ = b.search(QUERY)
    assert ENTRY["id"] not in ids(hits)

    assert a.ask(op="publish", entry=ENTRY)["changed"] == [ENTRY["id"]]
    hits, served_before = b.search(QUERY)
    assert ids(hits)[0] == ENTRY["id"] and "热力公司" in hits[0]["answer"]

    changed = {**ENTRY, "answer": "供暖报修改为拨打12345政务服务便民热线。"}
    a.ask(op="publish", entry=changed)
    hits, served_after = b.search(QUERY)
    assert ids(hits)[0] == ENTRY["id"] and "12345" in hits[0]["answer"]
    assert served_after == served_before + 1  # answered by the cluster, not by b's own embedded index

    assert b.ask(op="withdraw", ids=[ENTRY["id"]])["removed"] == [ENTRY["id"]]
    hits, _ = a.search(QUERY)
    assert ENTRY["id"] not in ids(hits)
