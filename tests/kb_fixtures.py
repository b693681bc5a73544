"""Shared knowledge-base fixtures: a store loaded from the curated data, built once per session."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from knowledge_base.kb import KnowledgeBase
from knowledge_base.store import Store


@pytest.fixture(scope="session")
def loaded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding every curated entry (loaded once; copy it before writing)."""
    path = tmp_path_factory.mktemp("kb") / "kb.sqlite3"
    kb = KnowledgeBase(Store(path))
    asyncio.run(kb.load_data_dir())
    kb.store.close()
    return path


@pytest.fixture
def kb(loaded_db: Path, tmp_path: Path) -> KnowledgeBase:
    """A private, writable copy of the loaded store."""
    path = tmp_path / "kb.sqlite3"
    shutil.copy(loaded_db, path)
    return KnowledgeBase(Store(path))
