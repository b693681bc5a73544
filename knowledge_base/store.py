"""SQLite storage of entries, with the embedded full-text index kept in the same file.

Why one file: an entry and its index row change in the same transaction, so a reader in another
process (the action server while staff publish) never sees one without the other.  WAL mode lets
one writer and many readers work at once; every write takes `BEGIN IMMEDIATE` so two writers queue
instead of failing half-way.

Each entry keeps a stable id (from the data files or the editor) and a version that goes up by one
whenever its content changes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .documents import FIELDS, to_document
from .models import ENTRY_TYPES, UNSEARCHED_KINDS, Entry

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    title TEXT NOT NULL,
    data TEXT NOT NULL,          -- the entry as JSON
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_index USING fts5(
    id UNINDEXED, kind UNINDEXED, domain UNINDEXED, display_title UNINDEXED, answer UNINDEXED,
    {", ".join(FIELDS)},
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""


@dataclass
class ChangeReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # left as staff last published them (load_data_dir)

    @property
    def changed(self) -> list[str]:
        return self.added + self.updated + self.removed


def _entry_json(entry: Entry) -> str:
    return json.dumps(entry.dict(exclude_none=True), ensure_ascii=False, sort_keys=True)


def entry_from_json(kind: str, data: str) -> Entry:
    return ENTRY_TYPES[kind].parse_raw(data)  # type: ignore[return-value]


class Store:
    """Entries and their embedded search index in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self.connection()
        # Opening must not need the write lock (readers open while a writer publishes): create the
        # schema only when it is missing.  executescript manages its own transaction.
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
            db.executescript(SCHEMA)

    # -- connections ---------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections must not be shared across threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE) for callers that keep their own tables in this file
        (knowledge_base.curation): their rows and an `upsert_in`/`remove_in` commit together."""
        return self._write()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writing -------------------------------------------------------------------------------
    def upsert(self, entries: Sequence[Entry], author: str = "system") -> ChangeReport:
        """Add or update entries in one transaction; unchanged entries keep their version."""
        with self._write() as db:
            return self.upsert_in(db, entries, author)

    def upsert_in(
        self,
        db: sqlite3.Connection,
        entries: Sequence[Entry],
        author: str = "system",
        min_versions: Mapping[str, int] | None = None,
    ) -> ChangeReport:
        """`upsert` inside the caller's `transaction()`.  `min_versions` lets an entry that comes
        back (restored from the archive) continue its old numbering instead of starting at 1."""
        report = ChangeReport()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for entry in entries:
            data = _entry_json(entry)
            row = db.execute("SELECT data, version FROM entries WHERE id = ?", (entry.id,)).fetchone()
            if row and row[0] == data:
                report.unchanged.append(entry.id)
                continue
            version = max(row[1] + 1 if row else 1, (min_versions or {}).get(entry.id, 1))
            db.execute(
                "INSERT OR REPLACE INTO entries (id, kind, domain, title, data, version, updated_at, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.id, entry.kind, entry.domain, to_document(entry).title, data, version, now, author),
            )
            self._index(db, entry, replace=row is not None)
            (report.updated if row else report.added).append(entry.id)
        if report.changed:
            self._bump(db)
        return report

    def remove(self, ids: Iterable[str]) -> ChangeReport:
        with self._write() as db:
            return self.remove_in(db, ids)

    def remove_in(self, db: sqlite3.Connection, ids: Iterable[str]) -> ChangeReport:
        """`remove` inside the caller's `transaction()`."""
        report = ChangeReport()
        for entry_id in ids:
            if db.execute("DELETE FROM entries WHERE id = ?", (entry_id,)).rowcount:
                db.execute("DELETE FROM search_index WHERE id = ?", (entry_id,))
                report.removed.append(entry_id)
        if report.removed:
            self._bump(db)
        return report

    def replace_all(
        self, entries: Sequence[Entry], author: str = "system", also_keep: Iterable[str] = ()
    ) -> ChangeReport:
        """Make the store hold exactly `entries` (plus the ids in `also_keep`, left as they are)."""
        keep = {e.id for e in entries} | set(also_keep)
        with self._write() as db:
            stale = [r[0] for r in db.execute("SELECT id FROM entries") if r[0] not in keep]
        report = self.upsert(entries, author)
        report.removed = self.remove(stale).removed
        return report

    @staticmethod
    def _index(db: sqlite3.Connection, entry: Entry, replace: bool = True) -> None:
        if entry.kind in UNSEARCHED_KINDS:
            return  # matched by other means (a policy by a business profile), never searched
        doc = to_document(entry)
        terms = doc.terms()
        if replace:  # `id` is UNINDEXED, so this scans the whole FTS table: only when a row exists
            db.execute("DELETE FROM search_index WHERE id = ?", (entry.id,))
        db.execute(
            f"INSERT INTO search_index (id, kind, domain, display_title, answer, {', '.join(FIELDS)})"
            f" VALUES (?, ?, ?, ?, ?{', ?' * len(FIELDS)})",
            (doc.id, doc.kind, doc.domain, doc.title, doc.answer, *(terms[f] for f in FIELDS)),
        )

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # -- reading -------------------------------------------------------------------------------
    def get(self, entry_id: str) -> Entry | None:
        row = self.connection().execute("SELECT kind, data FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return entry_from_json(*row) if row else None

    def get_with_version(self, entry_id: str) -> tuple[Entry, int] | None:
        """The entry and its version, read together."""
        row = self.connection().execute("SELECT kind, data, version FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return (entry_from_json(row[0], row[1]), row[2]) if row else None

    def version(self, entry_id: str) -> int | None:
        row = self.connection().execute("SELECT version FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return row[0] if row else None

    def all(self, kind: str | None = None) -> list[Entry]:
        query = "SELECT kind, data FROM entries" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        return [entry_from_json(*row) for row in self.connection().execute(query, (kind,) if kind else ())]

    def generation(self) -> int:
        """A counter bumped by every write, so caches in other processes know to refresh."""
        return int(self.connection().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, domain, count in self.connection().execute(
            "SELECT kind, domain, COUNT(*) FROM entries GROUP BY kind, domain ORDER BY kind, domain"
        ):
            out.setdefault(kind, {})[domain] = count
        return out
