"""The knowledge base as its callers use it: open, search, read an entry or one of its elements,
publish changes.  The search backend is chosen by settings; callers never name it."""

from __future__ import annotations

from collections.abc import Sequence

from .elements import render_element
from .loader import DATA_DIR, load_data_dir
from .models import Entry, Guide
from .search.base import SearchBackend, SearchHit
from .search.embedded import EmbeddedSearch
from .settings import Settings
from .store import ChangeReport, Store


class KnowledgeBase:
    def __init__(self, store: Store, backend: SearchBackend | None = None) -> None:
        self.store = store
        self.backend: SearchBackend = backend or EmbeddedSearch(store)

    @classmethod
    def open(cls, settings: Settings | None = None) -> KnowledgeBase:
        settings = settings or Settings.from_env()
        store = Store(settings.db_path)
        if settings.backend == "embedded":
            return cls(store)
        if settings.backend == "elasticsearch":
            from .search.elastic import ElasticsearchSearch  # optional dependency, loaded on demand

            return cls(store, ElasticsearchSearch.from_settings(settings, fallback=EmbeddedSearch(store)))
        raise ValueError(f"KB_BACKEND must be 'embedded' or 'elasticsearch', not {settings.backend!r}")

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        return await self.backend.search(query, top_k=top_k, kinds=kinds)

    def get(self, entry_id: str) -> Entry | None:
        return self.store.get(entry_id)

    def element(self, guide_id: str, element: str) -> str | None:
        """One element of a guide as text, or None if there is no such guide or element."""
        guide = self.store.get(guide_id)
        if not isinstance(guide, Guide):
            return None
        return render_element(guide, element)

    async def publish(self, entries: Sequence[Entry], author: str = "system") -> ChangeReport:
        report = self.store.upsert(entries, author)
        changed = [e for e in entries if e.id in set(report.changed)]
        if changed:
            await self.backend.index(changed)
        return report

    async def load_data_dir(self, data_dir=DATA_DIR, prune: bool = False) -> ChangeReport:  # noqa: ANN001
        """Bring the store up to date with the curated data files (idempotent)."""
        entries = load_data_dir(data_dir)
        if prune:
            report = self.store.replace_all(entries, author="data-files")
            await self.backend.remove(report.removed)
        else:
            report = self.store.upsert(entries, author="data-files")
        changed = set(report.added + report.updated)
        await self.backend.index([e for e in entries if e.id in changed])
        return report

    async def close(self) -> None:
        await self.backend.close()
