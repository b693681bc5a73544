"""One knowledge-base process for tests/scale: the KB library as a service instance opens it
(KnowledgeBase.open from the environment: KB_DB, KB_BACKEND=elasticsearch, KB_ES_URL, …), driven
by one JSON command per line on stdin, one JSON answer per line on stdout.

    {"op": "search", "q": "…"}            -> {"hits": [{"id": …, "answer": …}, …], "served": {…}}
    {"op": "publish", "entry": {QA …}}     -> {"changed": [ids]}
    {"op": "withdraw", "ids": [ids]}       -> {"removed": [ids]}
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA


async def answer(kb: KnowledgeBase, command: dict[str, Any]) -> dict[str, Any]:
    if command["op"] == "search":
        hits = await kb.search(command["q"], top_k=5)
        health = getattr(kb.backend, "health", lambda: {})()
        return {"hits": [{"id": h.id, "answer": h.answer} for h in hits], "served": health.get("queries", {})}
    if command["op"] == "publish":
        report = await kb.publish([QA(**command["entry"])], author="scale-test")
        return {"changed": list(report.changed)}
    if command["op"] == "withdraw":
        report = await kb.withdraw(command["ids"])
        return {"removed": list(report.removed)}
    raise ValueError(f"unknown op {command['op']!r}")


async def main() -> None:
    kb = KnowledgeBase.open()
    await kb.backend.start()  # type: ignore[attr-defined]  # index found (or built) and checked, as at a service's start
    print(json.dumps({"ready": kb.backend.health()}), flush=True)  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps(await answer(kb, json.loads(line)), ensure_ascii=False), flush=True)
    await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
