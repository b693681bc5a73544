"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from actions_harness import store  # noqa: F401 - fixtures are found by name
from kb_fixtures import kb, loaded_db  # noqa: F401 - fixtures are found by name
from rasa_stack import RasaStack, start_stack


@pytest.fixture(scope="session")
def rasa_stack(loaded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:  # noqa: F811
    """The real, trained assistant: action server + Rasa server on free ports (one per session)."""
    stack = start_stack(loaded_db, tmp_path_factory.mktemp("rasa"))
    yield stack
    stack.stop()
