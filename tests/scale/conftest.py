"""Fixtures of the scale-out suite (docs/deployment.md): real PostgreSQL, Redis, haproxy and
OpenSearch, each started here on free ports and stopped afterwards.  A test is skipped, saying
why, only when an engine is not installed and cannot be (scripts/ensure_engines.sh)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from elastic_fixtures import SERVE, OpenSearchNode
from scale_engines import Haproxy, Postgres, Redis, ensure_installed, haproxy_bin, postgres_bin, redis_server

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a scale test (`-m scale` runs them, `-m "not scale"` leaves them)."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.scale)


@cache
def _install_message() -> str:
    return ensure_installed()


def _engine(lookup: Callable[[], object], package: str) -> object:
    found = lookup()
    if found is None:
        _install_message()
        found = lookup()
    if found is None:
        pytest.skip(f"{package} is not installed and could not be (scripts/ensure_engines.sh): {_install_message()}")
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres(_engine(postgres_bin, "PostgreSQL (Debian's postgresql)"))  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis() -> Iterator[Redis]:
    server = Redis(_engine(redis_server, "Redis (Debian's redis-server)"))  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_haproxy() -> Iterator[Callable[..., Haproxy]]:
    """start_haproxy(["127.0.0.1:port", ...], check_path="/health") -> a running balancer."""
    binary = _engine(haproxy_bin, "haproxy (Debian's haproxy)")
    started: list[Haproxy] = []

    def start(servers: list[str], check_path: str = "/health") -> Haproxy:
        balancer = Haproxy(binary, servers, check_path)  # type: ignore[arg-type]
        started.append(balancer)
        balancer.start()
        return balancer

    yield start
    for balancer in started:
        balancer.stop()


@pytest.fixture(scope="session")
def search_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The OpenSearch node of scripts/test.sh (KB_TEST_ES_URL), else one of ../shared/opensearch
    started for this session."""
    url = os.environ.get("KB_TEST_ES_URL")
    if url:
        yield url
        return
    if not SERVE.is_file():
        pytest.skip(f"no search engine: KB_TEST_ES_URL is not set and {SERVE} is not here")
    node = OpenSearchNode(home=Path(tmp_path_factory.mktemp("opensearch")))
    node.start()
    try:
        yield node.url
    finally:
        node.kill()
