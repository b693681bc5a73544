"""Staff analytics (/kb/analytics, reviewer and admin): what citizens ask, what goes unanswered,
where helpers are slow, which entries earn 差评 — each chart's data also as CSV or XLSX.

Counts over messages and events are pre-aggregated into `analytics_rollup`, one row per
(metric, UTC hour, channel, domain, key); `refresh` folds in only the rows added since the last
time (a watermark per source table), so a request costs a scan of the new rows plus a read of the
rollup, not a scan of every stored message (bench/analytics).  Ratings, handoffs and helper claims
are far fewer than messages and are read directly.

Turn outcomes: every answer from the knowledge base counts as answered, a clarifying question as
clarified, a fallback (or a message the service gave up on) as unanswered, a handoff as handed
off; the shares are of the sum of the four.  A domain filter narrows what belongs to an entry
(answers, handoffs about a service, ratings); volumes and unanswered questions have no domain.
Every text shown or exported is masked of 身份证号/手机号 (bot.shared.masking).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot import curation, ratings, staff_pages, worklists
from bot.access import require
from bot.keys import CONFIG, STORE
from bot.responses import RefusedError, ok
from bot.shared.masking import mask
from bot.shared.roles import ANALYTICS
from bot.store import Store

# Which domain each entry is in, for the rows folded by this connection: a temporary table, no
# part of the file (the rollup tables are: bot/schema.py, migration 7).
ENTRY_DOMAINS = (
    "CREATE TEMP TABLE IF NOT EXISTS entry_domains (entry_id TEXT PRIMARY KEY, domain TEXT NOT NULL) WITHOUT ROWID"
)

BATCH = 100_000  # rows folded per step; the event loop gets a turn between steps
OUTCOMES = {"answer": "已回答", "clarify": "追问澄清", "unanswered": "未能回答", "handoff": "转人工"}
CHANNELS = {"webwidget": "网页", "telegram": "Telegram", "rest": "App/接口"}
MAX_DAYS = 366

# source table -> (id column, SQL folding rows (last, upto] into the rollup)
_UPSERT = " ON CONFLICT (metric, hour, channel, domain, key) DO UPDATE SET count = count + excluded.count"
_SOURCES = {
    "messages": (
        "seq",
        "INSERT INTO analytics_rollup SELECT 'question', CAST(m.created_at / 3600 AS INTEGER), c.channel, '', '', "
        "COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.seq > ? AND m.seq <= ? AND m.direction = 'in' GROUP BY 2, 3" + _UPSERT,
    ),
    "analytics_events": (
        "id",
        "INSERT INTO analytics_rollup SELECT CASE e.kind WHEN 'unanswered' THEN 'unanswered' ELSE e.kind END, "
        "CAST(e.created_at / 3600 AS INTEGER), e.channel, COALESCE(d.domain, ''), "
        "CASE e.kind WHEN 'unanswered' THEN '' ELSE COALESCE(json_extract(e.data, '$.entry_id'), "
        "json_extract(e.data, '$.service'), '') END, COUNT(*) "
        "FROM analytics_events e LEFT JOIN entry_domains d ON d.entry_id = "
        "COALESCE(json_extract(e.data, '$.entry_id'), json_extract(e.data, '$.service')) "
        "WHERE e.id > ? AND e.id <= ? AND e.kind IN ('answer', 'handoff', 'unanswered') "
        "GROUP BY 1, 2, 3, 4, 5" + _UPSERT,
    ),
    "unresolved_questions": (
        "id",
        "INSERT INTO analytics_rollup SELECT CASE reason WHEN 'clarify' THEN 'clarify' ELSE 'unanswered' END, "
        "CAST(created_at / 3600 AS INTEGER), channel, '', '', COUNT(*) FROM unresolved_questions "
        "WHERE id > ? AND id <= ? AND reason != 'no_words' GROUP BY 1, 2, 3" + _UPSERT,
    ),
}


# -- pre-aggregation ------------------------------------------------------------------------------


def ensure_entry_domains(db: sqlite3.Connection) -> None:
    db.execute(ENTRY_DOMAINS)


def set_entry_domains(db: sqlite3.Connection, domains: dict[str, str]) -> None:
    """Which domain each entry is in, for rows folded from now on (a temporary table of this connection)."""
    ensure_entry_domains(db)
    db.execute("DELETE FROM entry_domains")
    db.executemany("INSERT INTO entry_domains VALUES (?, ?)", domains.items())


def refresh_step(db: sqlite3.Connection, batch: int = BATCH) -> bool:
    """Fold up to `batch` new rows of each source into the rollup; True when all sources are caught up."""
    ensure_entry_domains(db)
    done = True
    for source, (column, sql) in _SOURCES.items():
        row = db.execute("SELECT last_id FROM analytics_watermarks WHERE source = ?", (source,)).fetchone()
        last = row[0] if row else 0
        newest = db.execute(f"SELECT MAX({column}) FROM {source}").fetchone()[0] or 0
        if newest <= last:
            continue
        upto = min(newest, last + batch)
        db.execute("BEGIN")
        try:
            db.execute(sql, (last, upto))
            db.execute(
                "INSERT INTO analytics_watermarks VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET last_id = ?",
                (source, upto, upto),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        done = done and upto >= newest
    return done


async def refresh(store: Store, domains: dict[str, str] | None = None) -> None:
    """Catch the rollup up with the store, a batch at a time (citizens are served in between)."""
    if domains is not None:
        set_entry_domains(store.db, domains)
    while not refresh_step(store.db):
        await asyncio.sleep(0)


# -- filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: date  # first day, local time
    end: date  # last day, inclusive
    channel: str | None
    domain: str | None
    zone: ZoneInfo

    @property
    def since(self) -> float:
        return datetime.combine(self.start, datetime.min.time(), self.zone).timestamp()

    @property
    def until(self) -> float:
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time(), self.zone).timestamp()

    def previous(self) -> Filters:
        """The period of the same length just before this one (for trends)."""
        days = (self.end - self.start).days + 1
        return Filters(
            self.start - timedelta(days=days), self.start - timedelta(days=1), self.channel, self.domain, self.zone
        )

    @classmethod
    def parse(cls, query: Any, zone: ZoneInfo, today: date | None = None) -> Filters:
        today = today or datetime.now(zone).date()
        try:
            end = date.fromisoformat(query.get("to")) if query.get("to") else today
            start = date.fromisoformat(query.get("from")) if query.get("from") else end - timedelta(days=29)
        except ValueError:
            raise RefusedError(400, "bad_date", "日期格式应为 2026-01-31。 / Dates: YYYY-MM-DD.") from None
        if start > end:
            raise RefusedError(400, "bad_range", "开始日期不能晚于结束日期。 / from must not be after to.")
        if (end - start).days >= MAX_DAYS:
            raise RefusedError(400, "bad_range", f"一次最多查看 {MAX_DAYS} 天。 / At most {MAX_DAYS} days.")
        return cls(start, end, query.get("channel") or None, query.get("domain") or None, zone)


def _where(filters: Filters, with_domain: bool) -> tuple[str, list[Any]]:
    sql = "hour >= ? AND hour < ?"
    args: list[Any] = [int(filters.since // 3600), int(-(-filters.until // 3600))]
    if filters.channel:
        sql += " AND channel = ?"
        args.append(filters.channel)
    if with_domain and filters.domain:
        sql += " AND domain = ?"
        args.append(filters.domain)
    return sql, args


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Names:
    """What staff read instead of ids."""

    entries: dict[str, tuple[str, str, str]]  # id -> (title, kind, domain)
    domains: dict[str, str]  # domain -> Chinese name

    def entry(self, entry_id: str | None) -> str:
        if not entry_id:
            return "—"
        found = self.entries.get(entry_id)
        return found[0] if found else entry_id

    def domain(self, domain: str | None) -> str:
        return self.domains.get(domain or "", domain or "—")


def _table(title: str, columns: list[str], rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {"title": title, "columns": columns, "rows": rows, **extra}


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _totals(db: sqlite3.Connection, filters: Filters) -> dict[str, int]:
    where, args = _where(filters, False)
    totals = dict.fromkeys(("question", *OUTCOMES), 0)
    for metric, count in db.execute(
        f"SELECT metric, SUM(count) FROM analytics_rollup WHERE {where} AND metric IN ('question', 'clarify', "
        "'unanswered') GROUP BY metric",
        args,
    ):
        totals[metric] = count
    where, args = _where(filters, True)
    for metric, count in db.execute(
        f"SELECT metric, SUM(count) FROM analytics_rollup WHERE {where} AND metric IN ('answer', 'handoff') "
        "GROUP BY metric",
        args,
    ):
        totals[metric] = count
    return totals


def _rating_rows(db: sqlite3.Connection, filters: Filters, names: Names) -> list[dict[str, Any]]:
    sql = "SELECT * FROM ratings WHERE created_at >= ? AND created_at < ?"
    args: list[Any] = [filters.since, filters.until]
    if filters.channel:
        sql += " AND channel = ?"
        args.append(filters.channel)
    rows = [dict(row) for row in db.execute(sql, args)]
    if filters.domain:
        rows = [r for r in rows if names.entries.get(r["entry_id"] or "", ("", "", ""))[2] == filters.domain]
    return rows


def _helper_rows(db: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    sql = (
        "SELECT c.id, hp.name AS helper, h.created_at AS queued_at, c.claimed_at, c.ended_at, h.channel, "
        "h.service, (SELECT MIN(m.created_at) FROM messages m WHERE m.conversation_id = c.conversation_id "
        "AND m.direction = 'out' AND m.created_at >= c.claimed_at AND json_extract(m.extra, '$.helper') IS NOT NULL) "
        "AS first_reply FROM helpdesk_claims c JOIN handoffs h ON h.id = c.handoff_id "
        "LEFT JOIN helpers hp ON hp.id = c.helper_id WHERE h.created_at >= ? AND h.created_at < ?"
    )
    args: list[Any] = [filters.since, filters.until]
    if filters.channel:
        sql += " AND h.channel = ?"
        args.append(filters.channel)
    return [dict(row) for row in db.execute(sql, args)]


def _seconds(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"count": 0, "mean": None, "median": None}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 1),
        "median": round(statistics.median(values), 1),
    }


def report(db: sqlite3.Connection, filters: Filters, names: Names, target: float) -> dict[str, Any]:
    """Every chart of the page as a table (title, columns, rows), plus the headline numbers."""
    zone = filters.zone
    where, args = _where(filters, False)
    by_day: Counter[str] = Counter()
    by_hour: Counter[int] = Counter()
    by_channel: Counter[str] = Counter()
    for hour, channel, count in db.execute(
        f"SELECT hour, channel, SUM(count) FROM analytics_rollup WHERE {where} AND metric = 'question' "
        "GROUP BY hour, channel",
        args,
    ):
        local = datetime.fromtimestamp(hour * 3600, zone)
        by_day[local.date().isoformat()] += count
        by_hour[local.hour] += count
        by_channel[channel] += count
    days = [(filters.start + timedelta(days=i)).isoformat() for i in range((filters.end - filters.start).days + 1)]

    totals = _totals(db, filters)
    before = _totals(db, filters.previous())
    turns = sum(totals[k] for k in OUTCOMES)

    where, args = _where(filters, True)
    hits = dict(
        db.execute(
            f"SELECT key, SUM(count) FROM analytics_rollup WHERE {where} AND metric = 'answer' GROUP BY key", args
        ).fetchall()
    )
    top = sorted(hits.items(), key=lambda kv: -kv[1])[:15]
    catalogue = [
        (entry_id, info) for entry_id, info in names.entries.items() if not filters.domain or info[2] == filters.domain
    ]
    never = sorted((info[0], names.domain(info[2])) for entry_id, info in catalogue if not hits.get(entry_id))

    # Top unanswered questions, grouped as on the worklist (the texts are stored masked).
    sql = (
        "SELECT id, text, reason, choices, conversation_id, channel, created_at FROM unresolved_questions "
        "WHERE created_at >= ? AND created_at < ? AND reason IN ('not_found', 'out_of_scope')"
    )
    qargs: list[Any] = [filters.since, filters.until]
    if filters.channel:
        sql += " AND channel = ?"
        qargs.append(filters.channel)
    questions = [
        {**dict(row), "choices": json.loads(row["choices"] or "[]")}
        for row in db.execute(sql + " ORDER BY id DESC LIMIT 3000", qargs)
    ]
    groups = worklists.group_questions(questions)[:15]

    rated = _rating_rows(db, filters, names)
    levels = Counter(r["level"] for r in rated)
    reasons = Counter(r["reason"] for r in rated if ratings.is_low(r["level"]) and r["reason"])
    per_entry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rated:
        if r["target"] == "answer":
            per_entry[r["entry_id"] or ""].append(r)
    entry_rows = []
    for entry_id, items in per_entry.items():
        low = [r for r in items if ratings.is_low(r["level"])]
        common = Counter(r["reason"] for r in low if r["reason"]).most_common(1)
        entry_rows.append(
            [
                names.entry(entry_id),
                names.domain(names.entries.get(entry_id, ("", "", ""))[2]),
                len(items),
                round(statistics.fmean(r["level"] for r in items), 2),
                len(low),
                ratings.REASONS.get(common[0][0], "") if common else "",
            ]
        )
    entry_rows.sort(key=lambda row: (-row[4], row[3]))
    follow = _follow_up(db, filters)

    claims = _helper_rows(db, filters)
    waits = [c["claimed_at"] - c["queued_at"] for c in claims]
    firsts = [c["first_reply"] - c["claimed_at"] for c in claims if c["first_reply"]]
    handling = [c["ended_at"] - c["claimed_at"] for c in claims if c["ended_at"]]
    helper_ratings: dict[str, list[int]] = defaultdict(list)
    for r in rated:
        if r["target"] == "helper":
            helper_ratings[r["helper"] or "—"].append(r["level"])
    per_helper: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        per_helper[c["helper"] or "—"].append(c)
    helper_rows = []
    for name, items in sorted(per_helper.items()):
        first = [c["first_reply"] - c["claimed_at"] for c in items if c["first_reply"]]
        done = [c["ended_at"] - c["claimed_at"] for c in items if c["ended_at"]]
        levels_of = helper_ratings.get(name, [])
        helper_rows.append(
            [
                name,
                len(items),
                _seconds([c["claimed_at"] - c["queued_at"] for c in items])["median"],
                _seconds(first)["median"],
                _seconds(done)["median"],
                _share(sum(1 for f in first if f <= target), len(first)),
                round(statistics.fmean(levels_of), 2) if levels_of else None,
            ]
        )

    headline = {
        "questions": totals["question"],
        "answered_share": _share(totals["answer"], turns),
        "handoffs": totals["handoff"],
        "ratings": len(rated),
        "satisfied_share": _share(sum(1 for r in rated if r["level"] >= 3), len(rated)),
        "follow_up_rate": follow["follow_up_rate"],
        "first_response_within_target": _share(sum(1 for f in firsts if f <= target), len(firsts)),
        "first_response_target": target,
        "previous": {
            "questions": before["question"],
            "answered_share": _share(before["answer"], sum(before[k] for k in OUTCOMES)),
            "handoffs": before["handoff"],
        },
    }
    charts = {
        "volume_by_day": _table("每日咨询量", ["日期", "咨询量"], [[d, by_day.get(d, 0)] for d in days]),
        "volume_by_hour": _table(
            "各时段咨询量", ["时段", "咨询量"], [[f"{h:02d}时", by_hour.get(h, 0)] for h in range(24)]
        ),
        "volume_by_channel": _table(
            "各渠道咨询量", ["渠道", "咨询量"], [[CHANNELS.get(c, c), n] for c, n in by_channel.most_common()]
        ),
        "outcomes": _table(
            "回答情况",
            ["结果", "次数", "占比", "上期次数", "上期占比"],
            [
                [
                    label,
                    totals[k],
                    _share(totals[k], turns),
                    before[k],
                    _share(before[k], sum(before[m] for m in OUTCOMES)),
                ]
                for k, label in OUTCOMES.items()
            ],
        ),
        "top_services": _table(
            "热门事项（命中次数）",
            ["事项", "领域", "命中次数"],
            [[names.entry(k), names.domain(names.entries.get(k, ("", "", ""))[2]), n] for k, n in top],
        ),
        "top_unanswered": _table(
            "未能回答的热点问题（已归类）",
            ["问题", "次数", "最近一次"],
            [
                [g["label"], g["count"], datetime.fromtimestamp(g["last_at"], zone).strftime("%Y-%m-%d %H:%M")]
                for g in groups
            ],
        ),
        "rating_levels": _table(
            "好差评分布", ["评价", "次数"], [[label, levels.get(level, 0)] for level, label in ratings.LEVELS.items()]
        ),
        "rating_reasons": _table(
            "差评原因", ["原因", "次数"], [[ratings.REASONS.get(k, k), n] for k, n in reasons.most_common()]
        ),
        "rating_entries": _table(
            "各事项评价", ["事项", "领域", "评价数", "平均分", "差评数", "主要差评原因"], entry_rows[:50]
        ),
        "entry_hits": _table(
            "从未命中的条目",
            ["条目", "领域"],
            [list(row) for row in never[:200]],
            total_entries=len(catalogue),
            never_count=len(never),
        ),
        "helpers": _table(
            "人工帮办",
            [
                "帮办人员",
                "会话数",
                "排队等待中位数(秒)",
                "首次响应中位数(秒)",
                "处理时长中位数(秒)",
                f"{target:g}秒内首次响应占比",
                "平均评价",
            ],
            helper_rows,
            queue_wait=_seconds(waits),
            first_response=_seconds(firsts),
            handling=_seconds(handling),
        ),
    }
    for chart in charts.values():
        chart["rows"] = [[mask(v) if isinstance(v, str) else v for v in row] for row in chart["rows"]]
    return {
        "filters": {
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "channel": filters.channel,
            "domain": filters.domain,
        },
        "headline": headline,
        "follow_up": follow,
        "charts": charts,
        "generated_at": time.time(),
    }


def _follow_up(db: sqlite3.Connection, filters: Filters) -> dict[str, Any]:
    [row] = db.execute(
        "SELECT COUNT(*), COUNT(o.id), SUM(o.id IS NULL AND r.due_at < ?) FROM ratings r "
        "LEFT JOIN worklist_outcomes o ON o.item_kind = 'rating' AND o.item_id = r.id "
        f"WHERE r.level <= {ratings.LOW} AND r.created_at >= ? AND r.created_at < ?",
        (time.time(), filters.since, filters.until),
    ).fetchall()
    total, closed, overdue = row[0], row[1], row[2] or 0
    return {"bad_ratings": total, "closed": closed, "overdue": overdue, "follow_up_rate": _share(closed, total)}


# -- export ---------------------------------------------------------------------------------------


def to_csv(chart: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chart["columns"])
    writer.writerows(chart["rows"])
    return out.getvalue().encode("utf-8-sig")  # the BOM lets Excel read the Chinese


def to_xlsx(chart: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = chart["title"][:31]
    sheet.append(chart["columns"])
    for row in chart["rows"]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- routes ---------------------------------------------------------------------------------------


def _names(app: web.Application) -> Names:
    from knowledge_base.loader import domain_names

    db = curation.curation_of(app).store.connection()
    entries = {row[0]: (row[1], row[2], row[3]) for row in db.execute("SELECT id, title, kind, domain FROM entries")}
    return Names(entries, domain_names())


async def _report(request: web.Request) -> dict[str, Any]:
    config = request.app[CONFIG]
    zone = ZoneInfo(config.helpdesk_timezone)
    filters = Filters.parse(request.query, zone)
    names = _names(request.app)
    store = request.app[STORE]
    await refresh(store, {entry_id: info[2] for entry_id, info in names.entries.items()})
    return await asyncio.to_thread(_report_in_thread, store, filters, names, config.first_response_target)


def _report_in_thread(store: Store, filters: Filters, names: Names, target: float) -> dict[str, Any]:
    """The read runs on its own connection, off the event loop (WAL: readers never block the writer)."""
    db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return report(db, filters, names, target)
    finally:
        db.close()


routes = web.RouteTableDef()


@routes.get("/api/kb/analytics")
async def get_report(request: web.Request) -> web.Response:
    require(request, ANALYTICS)
    names = _names(request.app)
    body = await _report(request)
    body["domains"] = {d: n for d, n in names.domains.items()}
    body["channels"] = CHANNELS
    return ok(body)


@routes.get("/api/kb/analytics/export")
async def export(request: web.Request) -> web.Response:
    require(request, ANALYTICS)
    body = await _report(request)
    chart = body["charts"].get(request.query.get("chart", ""))
    if chart is None:
        raise RefusedError(404, "no_chart", "没有这个图表。 / No such chart.")
    kind = request.query.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        raise RefusedError(400, "bad_format", "格式只能是 csv 或 xlsx。 / format: csv or xlsx.")
    name = f"{request.query['chart']}_{body['filters']['from']}_{body['filters']['to']}.{kind}"
    data = to_csv(chart) if kind == "csv" else to_xlsx(chart)
    content_type = "text/csv" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=data,
        content_type=content_type,
        charset="utf-8" if kind == "csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    staff_pages.add_page(app, "/kb/analytics", "analytics.html", ANALYTICS)
