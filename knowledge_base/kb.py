"""The knowledge base as its callers use it: open, search, read an entry or one of its elements,
publish changes.  The search backend is chosen by settings; callers never name it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence

from .bundles import compose
from .elements import render_element
from .loader import DATA_DIR, load_data_dir
from .models import Bundle, Entry, Guide
from .search.base import SearchBackend, SearchHit
from .search.embedded import EmbeddedSearch
from .settings import Settings
from .store import ChangeReport, Store

log = logging.getLogger(__name__)

# Callbacks that check and write their own rows in the transaction that publishes (KnowledgeBase.publish).
Before = Callable[[sqlite3.Connection], None]
Within = Callable[[sqlite3.Connection, ChangeReport], None]


class KnowledgeBase:
    def __init__(self, store: Store, backend: SearchBackend | None = None) -> None:
        self.store = store
        self.backend: SearchBackend = backend or EmbeddedSearch(store)

    @classmethod
    def open(cls, settings: Settings | None = None, background_vectors: bool = False) -> KnowledgeBase:
        """`background_vectors`: a publish of many entries returns before their sentence vectors are
        encoded (in the background, on every core: vector_builder.py); for the services."""
        settings = settings or Settings.from_env()
        store = Store(settings.db_path)
        embedded = EmbeddedSearch(store)
        embedded.background_vectors = background_vectors
        if settings.backend == "embedded":
            return cls(store, embedded)
        if settings.backend == "elasticsearch":
            from .search.elastic import ElasticsearchSearch  # optional dependency, loaded on demand

            return cls(store, ElasticsearchSearch.from_settings(settings, fallback=embedded))
        raise ValueError(f"KB_BACKEND must be 'embedded' or 'elasticsearch', not {settings.backend!r}")

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        return await self.backend.search(query, top_k=top_k, kinds=kinds)

    def get(self, entry_id: str) -> Entry | None:
        """An entry as it is answered: a 一件事 bundle comes with its elements computed from its
        member guides (a Guide, knowledge_base/bundles.py); the store keeps what staff wrote."""
        entry = self.store.get(entry_id)
        if isinstance(entry, Bundle):
            members = [self.store.get(m) for m in entry.members]
            return compose(entry, [m for m in members if isinstance(m, Guide)])
        return entry

    def element(self, guide_id: str, element: str) -> str | None:
        """One element of a guide (or bundle) as text, or None if there is no such guide or element."""
        guide = self.get(guide_id)
        if not isinstance(guide, Guide):
            return None
        return render_element(guide, element)

    async def publish(
        self,
        entries: Sequence[Entry],
        author: str = "system",
        *,
        before: Before | None = None,
        within: Within | None = None,
        min_versions: Mapping[str, int] | None = None,
    ) -> ChangeReport:
        """Write entries to the store and the search backend.  `before(db)` and `within(db, report)`
        run inside the store's write transaction, before and after the entries are written, so
        checks see a settled store and rows they write (curation's revision and audit) commit with
        the entries or not at all; raising in either changes nothing."""
        with self.store.transaction() as db:
            if before is not None:
                before(db)
            report = self.store.upsert_in(db, entries, author, min_versions)
            if within is not None:
                within(db, report)
        changed = [e for e in entries if e.id in set(report.changed)]
        if changed:
            await self.backend.index(changed)
        return report

    async def withdraw(
        self, ids: Sequence[str], *, before: Before | None = None, within: Within | None = None
    ) -> ChangeReport:
        """Take entries out of the store and the search backend (curation's archive), as `publish`."""
        with self.store.transaction() as db:
            if before is not None:
                before(db)
            report = self.store.remove_in(db, ids)
            if within is not None:
                within(db, report)
        if report.removed:
            await self.backend.remove(report.removed)
        return report

    async def load_data_dir(self, data_dir=DATA_DIR, prune: bool = False) -> ChangeReport:  # noqa: ANN001
        """Bring the store up to date with the curated data files (idempotent).

        Entries staff changed through curation (published, rolled back or archived in the
        console) are left as staff made them and reported as `kept`: the data files are the seed,
        the console is where the knowledge base is kept right after that."""
        from .curation import curated_ids  # curation builds on this module

        curated = curated_ids(self.store)
        files = load_data_dir(data_dir)
        entries = [e for e in files if e.id not in curated]
        kept = {e.id for e in files if e.id in curated}
        if prune:
            # Entries created in the console are in no data file: pruning keeps them too.
            kept |= {entry_id for entry_id in curated if self.store.version(entry_id) is not None}
            report = self.store.replace_all(entries, author="data-files", also_keep=curated)
            await self.backend.remove(report.removed)
        else:
            report = self.store.upsert(entries, author="data-files")
        report.kept = sorted(kept)
        if kept:
            log.info("load_data_dir: %d entries changed by staff kept as published: %s", len(kept), report.kept[:20])
        changed = set(report.added + report.updated)
        await self.backend.index([e for e in entries if e.id in changed])
        return report

    async def close(self) -> None:
        await self.backend.close()
