"""bot/schema.py: one ordered list of migrations makes every table of the bot's SQLite file."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bot import accounts, helpdesk, schema, worklists
from bot.store import Store

BOT = Path(__file__).resolve().parents[2] / "bot"


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_a_new_store_has_exactly_the_tables_the_migrations_name(tmp_path: Path) -> None:
    store = await Store(tmp_path / "bot.sqlite3").open()
    try:
        declared = [table for migration in schema.MIGRATIONS for table in migration.tables]
        assert len(declared) == len(set(declared))  # each table has one owner
        assert _tables(store.db) - {"sqlite_sequence", "schema_version"} == set(declared)
        applied = [row[0] for row in store.db.execute("SELECT version FROM schema_version ORDER BY version")]
        assert applied == [migration.version for migration in schema.MIGRATIONS] == list(range(1, schema.LATEST + 1))
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 2  # the older builds' marker
    finally:
        await store.close()


async def test_a_store_from_before_schema_version_keeps_its_rows_and_gains_the_later_tables(tmp_path: Path) -> None:
    # As the service left a file before this change: the conversation tables at user_version 2, and
    # the helpdesk's tables never created (nobody had opened the helpers' console).
    path = tmp_path / "bot.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for step in schema.MIGRATIONS[0].sqlite:
        old.execute(step)
    schema.MIGRATIONS[1].sqlite[0](old)
    old.execute("INSERT INTO conversations VALUES ('c1', 'webwidget', 'x', 'bot', '{}', 1.0, 1.0)")
    old.execute("PRAGMA user_version = 2")
    old.close()

    store = await Store(path).open()
    try:
        assert {"helpers", "kb_drafts", "tracker_outbox", "login_audit"} <= _tables(store.db)
        assert [row[0] for row in store.db.execute("SELECT id FROM conversations")] == ["c1"]
        applied = [row[0] for row in store.db.execute("SELECT version FROM schema_version ORDER BY version")]
        assert applied == list(range(3, schema.LATEST + 1))  # 1 and 2 were there already
    finally:
        await store.close()
    db = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(db) == schema.LATEST  # again: nothing to do
    db.close()


@pytest.mark.parametrize("module", sorted(BOT.glob("*.py")), ids=lambda path: path.name)
def test_no_module_but_the_migrations_creates_a_table_in_the_bots_file(module: Path) -> None:
    if module.name in ("schema.py", "rasa_lock_store.py", "rasa_tracker_store.py"):  # the Rasa files are others
        return
    source = module.read_text(encoding="utf-8")
    assert not re.search(r"CREATE (UNIQUE )?(TABLE|INDEX)", source.replace("CREATE TEMP TABLE", ""))
    assert "sqlite_master" not in source  # every table is there: nobody checks


async def test_closing_helper_drafts_and_settling_them_is_one_transaction(tmp_path: Path, monkeypatch) -> None:
    store = await Store(tmp_path / "bot.sqlite3").open()
    try:
        helper = accounts.create(store.db, "帮办甲", "helper", "correct horse battery")
        conversation = await store.create_conversation("webwidget", "x")
        store.db.execute(
            "INSERT INTO kb_drafts (question, answer, conversation_id, helper_id, created_at) VALUES (?, ?, ?, ?, 1)",
            ("要带啥", "身份证", conversation.id, helper.id),
        )
        [draft] = helpdesk.open_drafts(store.db)

        def fails(db: sqlite3.Connection, ids: list[int], status: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(helpdesk, "settle_drafts", fails)
        with pytest.raises(sqlite3.OperationalError):
            await worklists.close(store, "draft", [draft["id"]], "duplicate", "审核甲", None, None)
        assert await store.closed_items("draft", [draft["id"]]) == []  # the outcome went back with it
        monkeypatch.undo()
        assert await worklists.close(store, "draft", [draft["id"]], "duplicate", "审核甲", None, None) == [draft["id"]]
        assert store.db.execute("SELECT status FROM kb_drafts").fetchone()[0] == "rejected"
        assert helpdesk.open_drafts(store.db) == []
    finally:
        await store.close()
