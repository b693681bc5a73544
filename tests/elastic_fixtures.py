"""Fixtures for the Elasticsearch backend tests: the cluster named by KB_TEST_ES_URL, throw-away
indices on it, OpenSearch nodes a test starts (and kills) itself, and a gateway in front of the
cluster that adds what the test node lacks (a security layer answering 401, a slow network).

KB_TEST_ES_URL is set by scripts/test.sh when scripts/opensearch.sh could start the bundled
OpenSearch test node; point it at any Elasticsearch 8 cluster to run the tests there (credentials
in the URL, https://user:password@host:9200, and a private CA's PEM file in KB_TEST_ES_CA).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from aiohttp import ClientSession, ClientTimeout, web
from elasticsearch import AsyncElasticsearch

from knowledge_base.kb import KnowledgeBase
from knowledge_base.search.elastic import ElasticsearchSearch
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SERVE = Path(os.environ.get("OPENSEARCH_SERVE") or REPO.parent / "shared" / "opensearch" / "serve.sh")


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("KB_TEST_ES_URL")
    if not url:
        pytest.skip(
            "KB_TEST_ES_URL is not set: these tests need an Elasticsearch 8 compatible cluster "
            "(scripts/opensearch.sh start runs a local one; scripts/test.sh does it for you)"
        )
    return url


@pytest.fixture
async def es_prefix(es_url: str) -> AsyncIterator[str]:
    """A fresh index prefix; every index made under it is deleted afterwards."""
    prefix = f"jsbtest-{secrets.token_hex(4)}"
    yield prefix
    client = plain_client(es_url)
    try:
        await client.options(ignore_status=404).indices.delete(index=f"{prefix}.v*")
    finally:
        await client.close()


def plain_client(url: str) -> AsyncElasticsearch:
    """A plain client for checks behind the backend's back."""
    ca = os.environ.get("KB_TEST_ES_CA")
    return AsyncElasticsearch(url, **({"ca_certs": ca} if ca else {}))


def es_settings(url: str, prefix: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": Path("/nonexistent"),  # unused: the store is passed in
        "db_path": Path("/nonexistent/kb.sqlite3"),
        "backend": "elasticsearch",
        "es_url": url,
        "es_index_prefix": prefix,
        "es_ca": os.environ.get("KB_TEST_ES_CA") or None,
        "es_timeout": 10.0,  # generous: the shared test machine can be slow; outage tests lower it
        "es_health_interval": 3600.0,  # tests call check_health(); the outage test lowers it
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def es_knowledge_base(kb: KnowledgeBase, settings: Settings) -> KnowledgeBase:
    """The same store as `kb`, searched through the Elasticsearch backend."""
    assert isinstance(kb.backend, EmbeddedSearch)
    return KnowledgeBase(kb.store, ElasticsearchSearch.from_settings(settings, fallback=kb.backend))


@pytest.fixture
async def es_kb(kb: KnowledgeBase, es_url: str, es_prefix: str) -> AsyncIterator[KnowledgeBase]:
    """The curated store, indexed in Elasticsearch (started: the index is built and checked)."""
    es = es_knowledge_base(kb, es_settings(es_url, es_prefix))
    await es.backend.start()  # type: ignore[attr-defined]
    assert es.backend.health()["serving"] == "elasticsearch", es.backend.health()  # type: ignore[attr-defined]
    yield es
    await es.close()


def served(kb: KnowledgeBase) -> dict[str, int]:
    """How many queries each side has answered so far."""
    return dict(kb.backend.health()["queries"])  # type: ignore[attr-defined]


# -- OpenSearch nodes started by a test ----------------------------------------------------------
def free_port_triple() -> int:
    """P with P (client), P+1 (raw REST) and P+101 (transport) free, as serve.sh needs."""
    for _ in range(200):
        port = random.randint(20000, 40000)
        try:
            for p in (port, port + 1, port + 101):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class OpenSearchNode:
    """One node of ../shared/opensearch, on a port and home of its own."""

    home: Path
    port: int = field(default_factory=free_port_triple)
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        result = subprocess.run(
            [str(SERVE), str(self.home), str(self.port)], capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"serve.sh failed: {result.stderr.strip()} (log: {self.home}/stdout.log)")
        self.pids = [int(pid) for pid in result.stdout.split()]

    def kill(self) -> None:
        """SIGTERM the node and its proxy and wait until both are gone (the port and the data
        folder's lock are then free for a restart)."""
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 60
        while not all(_gone(pid) for pid in self.pids):
            if time.monotonic() > deadline:
                for pid in self.pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                break
            time.sleep(0.2)
        self.pids = []


@pytest.fixture
def opensearch_node(es_url: str, tmp_path: Path) -> Iterator[OpenSearchNode]:
    """A node of this test's own, started (killed at the end whatever happened)."""
    if not SERVE.is_file():
        pytest.skip(f"{SERVE} not found: the outage test starts and kills a node of its own")
    node = OpenSearchNode(home=tmp_path / "opensearch")
    node.start()
    try:
        yield node
    finally:
        node.kill()


# -- a gateway in front of the cluster -----------------------------------------------------------
# The OpenSearch test node has no security plugin and answers at once.  Production clusters ask
# for credentials and can be slow; this gateway forwards every request to the real cluster and
# answers like Elasticsearch's security layer when the credentials are wrong.
UNAUTHORIZED = {
    "error": {
        "root_cause": [{"type": "security_exception", "reason": "unable to authenticate user [kb] for REST request"}],
        "type": "security_exception",
        "reason": "unable to authenticate user [kb] for REST request",
        "header": {"WWW-Authenticate": ['Basic realm="security" charset="UTF-8"']},
    },
    "status": 401,
}
_HOP_BY_HOP = {"host", "content-length", "content-encoding", "transfer-encoding", "connection", "authorization"}


@dataclass
class Gateway:
    upstream: str
    user: str
    password: str
    delay: float = 0.0  # seconds added before each answer
    url: str = ""
    requests: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                UNAUTHORIZED,
                status=401,
                headers={
                    "WWW-Authenticate": 'Basic realm="security" charset="UTF-8"',
                    "X-Elastic-Product": "Elasticsearch",
                },
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with ClientSession(timeout=ClientTimeout(total=120)) as session:
            async with session.request(
                request.method, self.upstream + request.path_qs, data=await request.read(), headers=headers
            ) as upstream:
                body = await upstream.read()
                keep = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=upstream.status, body=body, headers=keep)


@pytest.fixture
async def gateway(es_url: str) -> AsyncIterator[Gateway]:
    gate = Gateway(upstream=es_url.rstrip("/"), user="kb", password="right-password")
    app = web.Application(client_max_size=200 * 1024 * 1024)  # bulk bodies are a few MB
    app.router.add_route("*", "/{tail:.*}", gate.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    gate.url = f"http://127.0.0.1:{port}"
    yield gate
    await runner.cleanup()
