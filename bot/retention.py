"""How long the bot service keeps citizens' words: BOT_RETENTION_DAYS (default 180), then purged.

    python -m bot.retention purge            # as configured (BOT_RETENTION_DAYS, BOT_DB / JSB_DATA_DIR)
    python -m bot.retention purge --days 30 --dry-run

The message table is the one place that holds what citizens typed, unmasked (docs/security.md,
"Personal data").  A conversation whose newest message is older than the retention period loses
its messages, its held tracker events and its citizen details, and is closed; the masked records
for statistics (ratings, handoffs, unresolved questions, events) stay.  A conversation that is still
going keeps all its messages, also its oldest ones.  Run it daily (cron or a systemd timer).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time

from bot import schema, tracker_outbox
from bot.config import BotConfig

_EXPIRED = """
SELECT c.id FROM conversations c
WHERE c.updated_at < :cutoff
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.created_at >= :cutoff)
  AND (EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) OR c.citizen != '{}' OR c.state != 'closed')
"""


def purge(db: sqlite3.Connection, days: float, now: float | None = None, *, dry_run: bool = False) -> dict[str, int]:
    """Purge conversations idle for longer than `days`; how many conversations and messages."""
    cutoff = (now if now is not None else time.time()) - days * 86400
    ids = [row[0] for row in db.execute(_EXPIRED, {"cutoff": cutoff})]
    marks = ",".join("?" * len(ids))
    messages = db.execute(f"SELECT COUNT(*) FROM messages WHERE conversation_id IN ({marks})", ids).fetchone()[0]
    if not dry_run and ids:
        with db:
            db.execute(f"DELETE FROM messages WHERE conversation_id IN ({marks})", ids)
            tracker_outbox.forget(db, ids)
            db.execute(f"UPDATE conversations SET state = 'closed', citizen = '{{}}' WHERE id IN ({marks})", ids)
    return {"conversations": len(ids), "messages": int(messages)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.retention", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("purge", help="delete the messages of conversations idle longer than the retention")
    run.add_argument("--days", type=float, help="instead of BOT_RETENTION_DAYS")
    run.add_argument("--dry-run", action="store_true", help="only count")
    args = parser.parse_args(argv)
    config = BotConfig.load()
    days = args.days if args.days is not None else config.retention_days
    db = sqlite3.connect(config.database, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")  # the running service may be writing
    schema.migrate(db)  # a file from an older version has every table purge touches
    try:
        counts = purge(db, days, dry_run=args.dry_run)
    finally:
        db.close()
    verb = "would purge" if args.dry_run else "purged"
    print(f"retention {days:g} days: {verb} {counts['messages']} messages of {counts['conversations']} conversations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
