"""Staff curation of the knowledge base: drafts, review, publishing, version history and the audit log.

Every change to an entry is a *revision* (table kb_revisions, in the knowledge base's own SQLite
file), so a publish, its revision row and its audit row commit in one transaction
(KnowledgeBase.publish(within=…)); no reader ever sees a published entry without its history.

Lifecycle of a revision:

    draft ──submit──▶ in_review ──approve──▶ published ──(a newer version)──▶ superseded
      ▲                   │
      └──── rejected ◀────┘ reject (with a reason; the author edits and submits again)

An entry has at most one open revision (draft, in_review or rejected) at a time; every editor works
on that one.  Published entries can be archived (taken out of the store and search; history kept)
and restored by a reviewer.

Two editors on one entry: each save names the published version it was based on (`base_version`)
and the draft's edit counter it last saw (`expected_edit`).  When either moved on, the save raises
`ConflictError` carrying what is stored now and changes nothing; the console keeps the editor's text.
An approval names the edit counter the reviewer saw, and is refused when the draft changed since or
when its base is no longer the published version.

Who may do what is checked here as well as in the HTTP layer (bot.access): editors save, submit
and make small direct changes (publish_direct: e.g. a citizen's wording added as a similar
question); reviewers and admins also approve, reject, roll back, archive and restore.  By default
nobody approves a revision they wrote or edited (KB_ALLOW_SELF_APPROVAL).

All messages in errors are plain Chinese for the consoles; nothing is changed when one is raised.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.shared.roles import CURATION, REVIEW

from .models import ENTRY_TYPES, QA, Entry, Guide, entry_title
from .settings import Settings
from .store import ChangeReport, Store

if TYPE_CHECKING:
    from .kb import KnowledgeBase

SCHEMA = """
CREATE TABLE IF NOT EXISTS kb_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,                 -- the entry as JSON, as the editor saved it
    state TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'rejected', 'published', 'superseded')),
    base_version INTEGER,               -- the published version it was based on; NULL for a new entry
    published_version INTEGER,          -- the version it became when published
    author TEXT NOT NULL,               -- who started it
    last_editor TEXT NOT NULL,          -- who saved it last
    reviewer TEXT,                      -- who approved or rejected it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    note TEXT,                          -- the editor's note, a rejection reason, a rollback's reason
    edit INTEGER NOT NULL DEFAULT 1     -- bumped by every save: optimistic locking
);
CREATE UNIQUE INDEX IF NOT EXISTS kb_revisions_open ON kb_revisions (entry_id)
    WHERE state IN ('draft', 'in_review', 'rejected');
CREATE INDEX IF NOT EXISTS kb_revisions_entry ON kb_revisions (entry_id, id);
CREATE TABLE IF NOT EXISTS kb_archived (
    entry_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    title TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,           -- the last published version
    archived_at TEXT NOT NULL,
    archived_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kb_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entry_id TEXT,
    revision_id INTEGER,
    version INTEGER,
    detail TEXT                          -- JSON
);
CREATE INDEX IF NOT EXISTS kb_audit_entry ON kb_audit (entry_id, id);
"""

OPEN_STATES = ("draft", "in_review", "rejected")
STATES = (*OPEN_STATES, "published", "superseded")

# Limits on what one entry may hold: generous for real guides, small enough that a pasted page or
# a runaway script cannot fill the database or the citizen's screen.
MAX_TEXT_CHARS = 2000  # any one text field
MAX_LIST_ITEMS = 60  # any one list (materials, steps, similar questions, …)
MAX_ENTRY_BYTES = 64 * 1024  # the whole entry as JSON
MAX_NOTE_CHARS = 500
MAX_SIMILAR_CHARS = 100
LIST_LIMIT_MAX = 200

# Labels of fields in Chinese, for error messages and the diff view.
FIELD_LABELS = {
    "id": "编号",
    "kind": "类型",
    "domain": "领域",
    "title": "事项名称",
    "code": "事项编码",
    "type": "事项类型",
    "department": "实施机构",
    "authority": "主管部门",
    "audience": "服务对象",
    "aliases": "别名",
    "keywords": "关键词",
    "summary": "白话说明",
    "conditions": "受理条件",
    "materials": "申请材料",
    "process": "办理流程",
    "time_limit": "办理时限",
    "fee": "收费标准",
    "location": "办理地点",
    "online": "网上办理",
    "legal_basis": "设定依据",
    "faq": "常见问题",
    "bundle": "一件事",
    "exempt": "免提交（电子证照）",
    "licence": "电子证照或承诺书",
    "way": "免提交方式",
    "members": "一起办的事项",
    "produced": "不用再交的材料",
    "merged": "合并了什么",
    "promised": "一件事承诺时限",
    "cross_region": "跨域通办",
    "scope": "通办范围",
    "ways": "办理方式",
    "regions": "通办地区",
    "where": "异地在哪办",
    "guides": "可办事项",
    "place": "具体位置",
    "always_open": "24小时开放",
    "question": "标准问题",
    "similar": "相似问法",
    "answer": "答案",
    "guide": "关联指南",
    "category": "分类",
    "name": "名称",
}
# A 惠企政策's fields where its label differs from a guide's, and its criteria one by one
# ("criteria.sizes" reads 享受条件·企业规模).
POLICY_FIELD_LABELS = {
    "title": "政策名称",
    "department": "兑现部门",
    "level": "政策层级",
    "criteria": "享受条件",
    "other_conditions": "其他条件",
    "benefit": "扶持内容",
    "apply": "申请方式",
    "materials": "申报材料",
    "deadline": "截止日期",
    "auto": "免申即享",
    "phone": "咨询电话",
    "source": "政策来源",
}
CRITERIA_LABELS = {
    "industries": "行业",
    "sizes": "企业规模",
    "min_years": "成立满几年",
    "max_years": "成立不超过几年",
    "places": "注册地",
    "tax_credit": "纳税信用等级",
    "good_credit": "无失信记录",
    "qualifications": "资质",
}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- errors ----------------------------------------------------------------------------------------


class CurationError(Exception):
    """A refused curation action; nothing was changed.  `message` is for the person (Chinese), `code`
    for programs; what it answers over HTTP is the web layer's to say (bot/middlewares.py)."""

    code = "refused"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(CurationError):
    code = "not_found"


class InvalidEntryError(CurationError):
    """The entry does not validate; `details` lists {field, label, message} per problem."""

    code = "invalid"


class NotAllowedError(CurationError):
    code = "not_allowed"


class TransitionError(CurationError):
    code = "bad_transition"


class ConflictError(CurationError):
    """Someone changed the entry since the editor loaded it; `details` holds what is stored now:
    {"published": {"version", "data"} | None, "draft": revision | None}."""

    code = "conflict"


class StaleError(CurationError):
    """An approval or rollback based on a published version that is no longer current."""

    code = "stale"


# -- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: the staff account's name and role (bot.shared.roles.ROLES)."""

    name: str
    role: str


@dataclass
class Revision:
    id: int
    entry_id: str
    kind: str
    data: dict[str, Any]
    state: str
    base_version: int | None
    published_version: int | None
    author: str
    last_editor: str
    reviewer: str | None
    created_at: str
    updated_at: str
    note: str | None
    edit: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Change:
    """One field-level difference; `path` like "materials[2].name", `field` its top-level field."""

    path: str
    field: str
    label: str
    change: str  # added / removed / changed
    before: Any = None
    after: Any = None


@dataclass
class EntryFilter:
    domain: str | None = None
    kind: str | None = None
    department: str | None = None
    state: str | None = None  # published / has_draft / in_review / rejected / new / archived
    text: str | None = None
    changed_since: str | None = None  # ISO date or time
    limit: int = 50
    offset: int = 0


@dataclass
class EntrySummary:
    id: str
    kind: str
    domain: str
    title: str
    department: str | None
    status: str  # published / archived / new (never published)
    version: int | None
    updated_at: str
    updated_by: str
    open_revision: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- schema and helpers ----------------------------------------------------------------------------


def ensure_schema(store: Store) -> None:
    db = store.connection()
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'kb_audit'").fetchone() is None:
        db.executescript(SCHEMA)


def curated_ids(store: Store) -> set[str]:
    """Entries staff published, rolled back or archived through curation (load_data_dir keeps them)."""
    db = store.connection()
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'kb_revisions'").fetchone() is None:
        return set()
    rows = db.execute(
        "SELECT entry_id FROM kb_revisions WHERE state IN ('published', 'superseded') AND author != 'data-files'"
        " UNION SELECT entry_id FROM kb_archived"
    )
    return {r[0] for r in rows}


def _revision(row: sqlite3.Row | tuple[Any, ...] | None) -> Revision | None:
    if row is None:
        return None
    values = list(row)
    values[3] = json.loads(values[3])
    return Revision(*values)


_REVISION_COLUMNS = (
    "id, entry_id, kind, data, state, base_version, published_version, author, last_editor, reviewer,"
    " created_at, updated_at, note, edit"
)


def _entry_json(entry: Entry) -> dict[str, Any]:
    return json.loads(json.dumps(entry.dict(exclude_none=True), ensure_ascii=False))


def label_of(path: str, kind: str | None = None) -> str:
    top = path.split("[")[0].split(".")[0]
    if kind == "policy" and top in POLICY_FIELD_LABELS:
        label = POLICY_FIELD_LABELS[top]
        inner = path[len(top) :].lstrip(".").split("[")[0].split(".")[0]
        return f"{label}·{CRITERIA_LABELS[inner]}" if top == "criteria" and inner in CRITERIA_LABELS else label
    return FIELD_LABELS.get(top, top)


def _check_sizes(value: Any, path: str, problems: list[dict[str, str]]) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            problems.append(_problem(path, f"太长了（{len(value)} 字），最多 {MAX_TEXT_CHARS} 字。"))
        if "\x00" in value:
            problems.append(_problem(path, "含有不可见的控制字符，请删去后再保存。"))
    elif isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            problems.append(_problem(path, f"条目太多（{len(value)} 项），最多 {MAX_LIST_ITEMS} 项。"))
        for i, item in enumerate(value[: MAX_LIST_ITEMS + 1]):
            _check_sizes(item, f"{path}[{i}]", problems)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_sizes(item, f"{path}.{key}" if path else str(key), problems)


def _problem(path: str, message: str, kind: str | None = None) -> dict[str, str]:
    return {"field": path, "label": label_of(path, kind), "message": message}


_PYDANTIC_MESSAGES = {
    "field required": "必须填写。",
    "none is not an allowed value": "必须填写。",
    "extra fields not permitted": "不是这类条目的字段。",
    "ensure this value has at least 1 characters": "不能为空。",
}


def _pydantic_message(msg: str) -> str:
    if msg in _PYDANTIC_MESSAGES:
        return _PYDANTIC_MESSAGES[msg]
    if msg.startswith("ensure this value has at least") and "items" in msg:
        return f"至少要有 {msg.split('at least ')[1].split(' ')[0]} 项。"
    if msg.startswith("unexpected value; permitted:"):
        return "只能选：" + msg.split("permitted:", 1)[1].strip()
    if msg.startswith("id must look like"):
        return "编号格式不对，应为“类型.英文小写名称”，如 guide.some-name。"
    if msg.startswith("ensure this value is"):
        return "数值超出允许范围（" + msg.replace("ensure this value is ", "") + "）。"
    return "填写有误：" + msg


def validate(data: Any) -> Entry:
    """The entry `data` describes, or `InvalidEntryError` naming each wrong field (in Chinese)."""
    if not isinstance(data, Mapping):
        raise InvalidEntryError("条目内容格式不对。", [_problem("(entry)", "应为一个对象。")])
    kind = data.get("kind")
    if kind not in ENTRY_TYPES:
        raise InvalidEntryError(
            "请选择条目类型（办事指南、常见问答、一件事、服务网点、自助终端或惠企政策）。",
            [_problem("kind", "只能是 guide、qa、bundle、center、terminal 或 policy。")],
        )
    problems: list[dict[str, str]] = []
    _check_sizes(dict(data), "", problems)
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_ENTRY_BYTES:
        problems.append(_problem("(entry)", f"整个条目太大，最多 {MAX_ENTRY_BYTES // 1024} KB。"))
    if problems:
        raise InvalidEntryError(f"有 {len(problems)} 处内容超出限制，未保存。", problems)
    try:
        entry = ENTRY_TYPES[kind].parse_obj(dict(data))
    except ValidationError as error:
        problems = [_problem(_path(item["loc"]), _pydantic_message(item["msg"]), kind) for item in error.errors()]
        raise InvalidEntryError(f"有 {len(problems)} 处需要修改，未保存。", problems) from None
    return entry  # type: ignore[return-value]


def _path(loc: Sequence[Any]) -> str:
    """pydantic's ("materials", 2, "name") as "materials[2].name", the form the diff uses."""
    out = ""
    for part in loc:
        if part == "__root__":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{"materials[0].name": "身份证", …}: every leaf of an entry with its path."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        if not value and path:
            out[path] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        if not value and path:
            out[path] = []
        for i, item in enumerate(value):
            out.update(flatten(item, f"{path}[{i}]"))
    else:
        out[path] = value
    return out


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """Field-level differences between two versions of an entry (either may be None: created/archived)."""
    old, new = flatten(before or {}), flatten(after or {})
    kind = (after or before or {}).get("kind")
    changes: list[Change] = []
    for path in sorted(set(old) | set(new), key=_path_key):
        top = path.split("[")[0].split(".")[0]
        if path not in old:
            changes.append(Change(path, top, label_of(path, kind), "added", None, new[path]))
        elif path not in new:
            changes.append(Change(path, top, label_of(path, kind), "removed", old[path], None))
        elif old[path] != new[path]:
            changes.append(Change(path, top, label_of(path, kind), "changed", old[path], new[path]))
    return changes


def _path_key(path: str) -> list[Any]:
    """Sort "materials[10]" after "materials[9]"."""
    out: list[Any] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return out


# -- the curation service --------------------------------------------------------------------------


class Curation:
    """Drafts, review, publishing and history for one knowledge base.

    Reads and draft changes are synchronous SQLite work; anything that publishes is async because
    the search backend (Elasticsearch) is told after the store commits."""

    def __init__(self, kb: KnowledgeBase, settings: Settings | None = None) -> None:
        self.kb = kb
        self.store = kb.store
        self.allow_self_approval = (settings or Settings.from_env()).allow_self_approval
        ensure_schema(self.store)

    # -- reading ---------------------------------------------------------------------------------

    def open_revision(self, entry_id: str) -> Revision | None:
        return _revision(
            self.store.connection()
            .execute(
                f"SELECT {_REVISION_COLUMNS} FROM kb_revisions WHERE entry_id = ? AND state IN (?, ?, ?)",
                (entry_id, *OPEN_STATES),
            )
            .fetchone()
        )

    def revision(self, revision_id: int) -> Revision:
        found = _revision(
            self.store.connection()
            .execute(f"SELECT {_REVISION_COLUMNS} FROM kb_revisions WHERE id = ?", (revision_id,))
            .fetchone()
        )
        if found is None:
            raise NotFoundError("没有这个修改记录。")
        return found

    def _published(self, db: sqlite3.Connection, entry_id: str) -> tuple[dict[str, Any], int] | None:
        row = db.execute("SELECT data, version FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def _archived(self, db: sqlite3.Connection, entry_id: str) -> dict[str, Any] | None:
        row = db.execute(
            "SELECT data, version, archived_at, archived_by FROM kb_archived WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            return None
        return {"data": json.loads(row[0]), "version": row[1], "archived_at": row[2], "archived_by": row[3]}

    def get_entry(self, entry_id: str) -> dict[str, Any]:
        """The entry as staff see it: published content and version, its open revision, archive state."""
        db = self.store.connection()
        published = self._published(db, entry_id)
        archived = self._archived(db, entry_id)
        draft = self.open_revision(entry_id)
        if published is None and archived is None and draft is None:
            raise NotFoundError("没有这个条目。")
        return {
            "id": entry_id,
            "status": "published" if published else "archived" if archived else "new",
            "published": {"data": published[0], "version": published[1]} if published else None,
            "archived": archived,
            "draft": draft.to_dict() if draft else None,
        }

    def list_entries(self, query: EntryFilter) -> dict[str, Any]:
        """Entries (published, archived and never-published drafts) matching the filter, newest change
        first: {"total", "entries": [EntrySummary…]}."""
        if query.state and query.state not in {"published", "has_draft", "in_review", "rejected", "new", "archived"}:
            raise CurationError("没有这个状态筛选。")
        union = """
            SELECT e.id, e.kind, e.domain, e.title, json_extract(e.data, '$.department') AS department,
                   'published' AS status, e.version, e.updated_at, e.updated_by, e.data
              FROM entries e
            UNION ALL
            SELECT a.entry_id, a.kind, a.domain, a.title, json_extract(a.data, '$.department'),
                   'archived', a.version, a.archived_at, a.archived_by, a.data
              FROM kb_archived a
            UNION ALL
            SELECT r.entry_id, r.kind, coalesce(json_extract(r.data, '$.domain'), ''),
                   coalesce(json_extract(r.data, '$.title'), json_extract(r.data, '$.question'),
                            json_extract(r.data, '$.name'), r.entry_id),
                   json_extract(r.data, '$.department'), 'new', NULL, r.updated_at, r.last_editor, r.data
              FROM kb_revisions r
             WHERE r.state IN ('draft', 'in_review', 'rejected') AND r.base_version IS NULL
               AND r.entry_id NOT IN (SELECT id FROM entries) AND r.entry_id NOT IN (SELECT entry_id FROM kb_archived)
        """
        sql = f"""
            SELECT x.id, x.kind, x.domain, x.title, x.department, x.status, x.version,
                   max(x.updated_at, coalesce(o.updated_at, '')) AS changed, x.updated_by,
                   o.id, o.state, o.last_editor, o.updated_at, o.edit
              FROM ({union}) x
              LEFT JOIN kb_revisions o ON o.entry_id = x.id AND o.state IN ('draft', 'in_review', 'rejected')
        """
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("x.domain", query.domain), ("x.kind", query.kind), ("x.department", query.department)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        state_sql = {
            "published": "x.status = 'published'",
            "archived": "x.status = 'archived'",
            "new": "x.status = 'new'",
            "has_draft": "o.id IS NOT NULL",
            "in_review": "o.state = 'in_review'",
            "rejected": "o.state = 'rejected'",
        }
        if query.state:
            where.append(state_sql[query.state])
        if query.text and query.text.strip():
            where.append("(x.id LIKE ? ESCAPE '\\' OR x.title LIKE ? ESCAPE '\\' OR x.data LIKE ? ESCAPE '\\')")
            like = "%" + query.text.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [like, like, like]
        if query.changed_since:
            where.append("max(x.updated_at, coalesce(o.updated_at, '')) >= ?")
            args.append(query.changed_since)
        if where:
            sql += " WHERE " + " AND ".join(where)
        db = self.store.connection()
        total = db.execute(f"SELECT COUNT(*) FROM ({sql})", args).fetchone()[0]
        limit = max(1, min(int(query.limit), LIST_LIMIT_MAX))
        rows = db.execute(sql + " ORDER BY changed DESC, x.id LIMIT ? OFFSET ?", [*args, limit, max(0, query.offset)])
        entries = []
        for row in rows:
            entries.append(
                EntrySummary(
                    id=row[0],
                    kind=row[1],
                    domain=row[2],
                    title=row[3],
                    department=row[4],
                    status=row[5],
                    version=row[6],
                    updated_at=row[7],
                    updated_by=row[8],
                    open_revision=(
                        {"id": row[9], "state": row[10], "last_editor": row[11], "updated_at": row[12], "edit": row[13]}
                        if row[9] is not None
                        else None
                    ),
                ).to_dict()
            )
        return {"total": total, "entries": entries}

    def facets(self) -> dict[str, list[str]]:
        """Values the filters offer: domains and departments in use."""
        db = self.store.connection()
        domains = [r[0] for r in db.execute("SELECT DISTINCT domain FROM entries ORDER BY domain")]
        departments = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT json_extract(data, '$.department') AS d FROM entries WHERE d IS NOT NULL ORDER BY d"
            )
        ]
        return {"domains": domains, "departments": departments}

    def review_queue(self) -> list[dict[str, Any]]:
        """Revisions waiting for review, oldest first, each with its diff against the published entry."""
        db = self.store.connection()
        rows = db.execute(
            f"SELECT {_REVISION_COLUMNS} FROM kb_revisions WHERE state = 'in_review' ORDER BY updated_at, id"
        ).fetchall()
        out = []
        for row in rows:
            revision = _revision(row)
            assert revision is not None
            published = self._published(db, revision.entry_id)
            out.append(
                {
                    "revision": revision.to_dict(),
                    "title": _title_of(revision.data),
                    "published_version": published[1] if published else None,
                    "stale": (published[1] if published else None) != revision.base_version,
                    "changes": [asdict(c) for c in diff(published[0] if published else None, revision.data)],
                }
            )
        return out

    def history(self, entry_id: str) -> dict[str, Any]:
        """Every revision of an entry (newest first) and its audit trail."""
        db = self.store.connection()
        revisions = [
            _revision(r).to_dict()  # type: ignore[union-attr]
            for r in db.execute(
                f"SELECT {_REVISION_COLUMNS} FROM kb_revisions WHERE entry_id = ? ORDER BY id DESC", (entry_id,)
            )
        ]
        published = self._published(db, entry_id)
        archived = self._archived(db, entry_id)
        if not revisions and published is None and archived is None:
            raise NotFoundError("没有这个条目。")
        versions = sorted(
            {r["published_version"] for r in revisions if r["published_version"] is not None}
            | ({published[1]} if published else set()),
            reverse=True,
        )
        return {
            "id": entry_id,
            "current_version": published[1] if published else None,
            "archived": archived is not None,
            "versions": versions,
            "revisions": revisions,
            "audit": self.audit(entry_id=entry_id, limit=200)["items"],
        }

    def version_data(self, entry_id: str, version: int | str) -> dict[str, Any]:
        """The content of a published version (a number), or of the open draft ("draft")."""
        db = self.store.connection()
        if version == "draft":
            draft = self.open_revision(entry_id)
            if draft is None:
                raise NotFoundError("这个条目没有草稿。")
            return draft.data
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise CurationError("版本号应为数字或 draft。") from None
        published = self._published(db, entry_id)
        if published and published[1] == number:
            return published[0]
        archived = self._archived(db, entry_id)
        if archived and archived["version"] == number:
            return archived["data"]
        row = db.execute(
            "SELECT data FROM kb_revisions WHERE entry_id = ? AND published_version = ? ORDER BY id DESC LIMIT 1",
            (entry_id, number),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"没有第 {number} 版的记录（数据文件导入的早期版本不留存内容）。")
        return json.loads(row[0])

    def diff_versions(self, entry_id: str, before: int | str, after: int | str) -> list[dict[str, Any]]:
        return [asdict(c) for c in diff(self.version_data(entry_id, before), self.version_data(entry_id, after))]

    def audit(
        self,
        *,
        entry_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> dict[str, Any]:
        """Audit rows, newest first (page with `before_id`)."""
        where, args = [], []
        for column, value in (("entry_id", entry_id), ("actor", actor), ("action", action)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if before_id:
            where.append("id < ?")
            args.append(before_id)
        sql = "SELECT id, at, actor, action, entry_id, revision_id, version, detail FROM kb_audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(max(1, min(limit, 500)))
        items = [
            {
                "id": r[0],
                "at": r[1],
                "actor": r[2],
                "action": r[3],
                "entry_id": r[4],
                "revision_id": r[5],
                "version": r[6],
                "detail": json.loads(r[7]) if r[7] else None,
            }
            for r in self.store.connection().execute(sql, args)
        ]
        return {"items": items}

    # -- drafts ----------------------------------------------------------------------------------

    def save_draft(
        self,
        data: Mapping[str, Any],
        base_version: int | None,
        expected_edit: int | None,
        actor: Actor,
        note: str | None = None,
    ) -> Revision:
        """Save the entry as the entry's open draft (creating it when there is none).

        `base_version`: the published version the editor started from (None for a new entry);
        `expected_edit`: the draft's edit counter the editor loaded (None when there was no draft).
        Raises InvalidEntryError (naming fields), ConflictError (with what is stored now) or NotAllowedError."""
        _need(actor, CURATION)
        entry = validate(data)
        note = _note(note)
        stored = _entry_json(entry)
        with self.store.transaction() as db:
            self._check_current(db, entry.id, base_version, expected_edit)
            draft = self._open_in(db, entry.id)
            stamp = now()
            if draft is None:
                cursor = db.execute(
                    "INSERT INTO kb_revisions (entry_id, kind, data, state, base_version, author, last_editor,"
                    " created_at, updated_at, note, edit) VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, 1)",
                    (entry.id, entry.kind, _dumps(stored), base_version, actor.name, actor.name, stamp, stamp, note),
                )
                revision_id = int(cursor.lastrowid or 0)
            else:
                if draft.kind != entry.kind:
                    raise CurationError("不能改变已有条目的类型。")
                revision_id = draft.id
                db.execute(
                    "UPDATE kb_revisions SET data = ?, state = 'draft', last_editor = ?, updated_at = ?,"
                    " note = coalesce(?, note), edit = edit + 1 WHERE id = ?",
                    (_dumps(stored), actor.name, stamp, note, draft.id),
                )
            _audit(db, actor, "save_draft", entry.id, revision_id, None, {"base_version": base_version})
        return self.revision(revision_id)

    def _check_current(
        self, db: sqlite3.Connection, entry_id: str, base_version: int | None, expected_edit: int | None
    ) -> None:
        published = self._published(db, entry_id)
        if self._archived(db, entry_id) is not None:
            raise TransitionError("这个条目已归档，请先由审核人恢复。")
        draft = self._open_in(db, entry_id)
        current_version = published[1] if published else None
        moved = current_version != base_version
        draft_moved = (draft.edit if draft else None) != (expected_edit or None)
        if moved or draft_moved:
            if moved and base_version is None:
                reason = "这个编号的条目已经存在，请打开它再修改。"
            elif moved:
                reason = f"您打开后，已发布内容从第 {base_version} 版变为第 {current_version} 版。"
            elif draft is None:
                reason = "您打开的草稿已被提交处理或撤销。"
            else:
                reason = f"{draft.last_editor} 在您打开后修改了草稿（{draft.updated_at}）。"
            raise ConflictError(
                reason + "您的内容没有保存，也没有丢失：请对照下方的最新内容后再保存。",
                {
                    "published": {"data": published[0], "version": published[1]} if published else None,
                    "draft": draft.to_dict() if draft else None,
                },
            )

    def _open_in(self, db: sqlite3.Connection, entry_id: str) -> Revision | None:
        return _revision(
            db.execute(
                f"SELECT {_REVISION_COLUMNS} FROM kb_revisions WHERE entry_id = ? AND state IN (?, ?, ?)",
                (entry_id, *OPEN_STATES),
            ).fetchone()
        )

    def _open_checked(self, db: sqlite3.Connection, entry_id: str, expected_edit: int | None) -> Revision:
        draft = self._open_in(db, entry_id)
        if draft is None:
            raise NotFoundError("这个条目没有待处理的草稿。")
        if expected_edit is not None and draft.edit != expected_edit:
            raise ConflictError(
                f"{draft.last_editor} 在您打开后修改了草稿，请刷新后再操作。",
                {"published": None, "draft": draft.to_dict()},
            )
        return draft

    def submit(self, entry_id: str, expected_edit: int | None, actor: Actor, note: str | None = None) -> Revision:
        """draft (or rejected) → in_review."""
        _need(actor, CURATION)
        note = _note(note)
        with self.store.transaction() as db:
            draft = self._open_checked(db, entry_id, expected_edit)
            if draft.state == "in_review":
                raise TransitionError("这份草稿已在审核中。")
            published = self._published(db, entry_id)
            if published and published[0] == draft.data:
                raise TransitionError("草稿与已发布内容相同，没有需要审核的修改。")
            db.execute(
                "UPDATE kb_revisions SET state = 'in_review', updated_at = ?, note = coalesce(?, note),"
                " edit = edit + 1 WHERE id = ?",
                (now(), note, draft.id),
            )
            _audit(db, actor, "submit", entry_id, draft.id, None, {"note": note} if note else None)
        return self.revision(draft.id)

    def withdraw_review(self, entry_id: str, expected_edit: int | None, actor: Actor) -> Revision:
        """in_review → draft (the editor takes it back to change it)."""
        _need(actor, CURATION)
        with self.store.transaction() as db:
            draft = self._open_checked(db, entry_id, expected_edit)
            if draft.state != "in_review":
                raise TransitionError("只有审核中的草稿可以撤回。")
            db.execute(
                "UPDATE kb_revisions SET state = 'draft', updated_at = ?, edit = edit + 1 WHERE id = ?",
                (now(), draft.id),
            )
            _audit(db, actor, "withdraw", entry_id, draft.id, None, None)
        return self.revision(draft.id)

    def discard_draft(self, entry_id: str, expected_edit: int | None, actor: Actor) -> None:
        """Drop the open draft (history keeps it as superseded)."""
        _need(actor, CURATION)
        with self.store.transaction() as db:
            draft = self._open_checked(db, entry_id, expected_edit)
            db.execute(
                "UPDATE kb_revisions SET state = 'superseded', updated_at = ?, note = ? WHERE id = ?",
                (now(), "草稿已放弃", draft.id),
            )
            _audit(db, actor, "discard_draft", entry_id, draft.id, None, None)

    def reject(self, entry_id: str, expected_edit: int | None, actor: Actor, reason: str) -> Revision:
        """in_review → rejected (the editor sees the reason, edits and submits again)."""
        _need(actor, REVIEW)
        reason = _note(reason) or ""
        if not reason:
            raise CurationError("请写明退回的原因。")
        with self.store.transaction() as db:
            draft = self._open_checked(db, entry_id, expected_edit)
            if draft.state != "in_review":
                raise TransitionError("只有审核中的草稿可以退回。")
            db.execute(
                "UPDATE kb_revisions SET state = 'rejected', reviewer = ?, note = ?, updated_at = ?, edit = edit + 1"
                " WHERE id = ?",
                (actor.name, reason, now(), draft.id),
            )
            _audit(db, actor, "reject", entry_id, draft.id, None, {"reason": reason})
        return self.revision(draft.id)

    # -- publishing ------------------------------------------------------------------------------

    async def approve(self, entry_id: str, expected_edit: int | None, actor: Actor, note: str | None = None) -> int:
        """Publish the revision in review; returns the new published version."""
        _need(actor, REVIEW)
        note = _note(note)
        draft = self._open_checked(self.store.connection(), entry_id, expected_edit)
        self._check_approvable(self.store.connection(), draft, actor)
        entry = validate(draft.data)
        previous: list[_Row | None] = []
        published: list[int] = []

        def check(db: sqlite3.Connection) -> None:
            # Again inside the write transaction: another reviewer or a publish may have won meanwhile.
            self._check_approvable(db, self._open_checked(db, entry_id, draft.edit), actor)
            previous.append(_row(db, entry_id))

        def record(db: sqlite3.Connection, report: ChangeReport) -> None:
            version = _version_after(db, entry_id, report)
            _keep_previous(db, entry_id, previous[0])
            db.execute(
                "UPDATE kb_revisions SET state = 'published', published_version = ?, reviewer = ?, updated_at = ?,"
                " note = coalesce(?, note) WHERE id = ?",
                (version, actor.name, now(), note, draft.id),
            )
            _audit(db, actor, "approve", entry_id, draft.id, version, {"note": note} if note else None)
            published.append(version)

        await self.kb.publish([entry], author=draft.author, before=check, within=record)
        return published[0]

    def _check_approvable(self, db: sqlite3.Connection, draft: Revision, actor: Actor) -> None:
        if draft.state != "in_review":
            raise TransitionError("只有审核中的草稿可以批准，请先提交审核。")
        if not self.allow_self_approval and actor.name in {draft.author, draft.last_editor}:
            raise NotAllowedError("不能批准自己写或改过的内容，请由另一位审核人批准。")
        if self._archived(db, draft.entry_id) is not None:
            raise TransitionError("这个条目已归档，请先恢复。")
        published = self._published(db, draft.entry_id)
        current = published[1] if published else None
        if current != draft.base_version:
            raise StaleError(
                f"草稿基于第 {draft.base_version} 版，而现在发布的是第 {current} 版：请退回，让编辑在最新版本上修改。"
                if draft.base_version is not None
                else "这个编号的条目已经发布过，请退回，让编辑在已发布版本上修改。"
            )
        if published and published[0] == draft.data:
            raise TransitionError("草稿与已发布内容相同，没有需要发布的修改。")

    async def publish_direct(
        self, entry: Entry | Mapping[str, Any], actor: Actor, action: str, note: str | None
    ) -> int:
        """A small audited change published at once, without review (e.g. a citizen's wording added
        as a similar question from a worklist).  The entry must already be published; returns its
        new version.  `action` names the change in the audit log (e.g. "add_similar_question")."""
        _need(actor, CURATION)
        note = _note(note)
        action = (action or "publish_direct").strip()[:60]
        checked = validate(entry if isinstance(entry, Mapping) else _entry_json(entry))
        current = self.store.version(checked.id)
        if current is None:
            raise NotFoundError("只能直接修改已发布的条目；新条目请先保存草稿并提交审核。")
        return await self._publish_new_version(checked, current, actor, action, note, {})

    async def _publish_new_version(
        self, entry: Entry, base_version: int, actor: Actor, action: str, note: str | None, detail: dict[str, Any]
    ) -> int:
        """Publish `entry` as the version after `base_version`, recorded as a published revision."""
        previous: list[_Row | None] = []
        published: list[int] = []

        def check(db: sqlite3.Connection) -> None:
            row = _row(db, entry.id)
            if row is None or row.version != base_version:  # someone changed it in between: refuse
                raise StaleError("条目刚被别人修改过，请刷新后再试。")
            if row.data == _dumps(_entry_json(entry)):
                raise TransitionError("内容与已发布版本相同，没有发布新版本。")
            previous.append(row)

        def record(db: sqlite3.Connection, report: ChangeReport) -> None:
            version = _version_after(db, entry.id, report)
            _keep_previous(db, entry.id, previous[0])
            revision_id = _insert_published(db, entry, base_version, version, actor, note)
            _audit(db, actor, action, entry.id, revision_id, version, {**detail, "note": note})
            published.append(version)

        await self.kb.publish([entry], author=actor.name, before=check, within=record)
        return published[0]

    async def publish_import(self, entries: Sequence[Entry], actor: Actor, source: str) -> ChangeReport:
        """Publish a checked import file in one transaction (reviewer/admin).  Every added or changed
        entry gets a published revision and an audit row, so imports show in history and can be
        rolled back like any other change; unchanged entries are left alone."""
        _need(actor, REVIEW)
        source = str(source or "import")[:200]
        previous: dict[str, _Row | None] = {}

        def check(db: sqlite3.Connection) -> None:
            for entry in entries:
                previous[entry.id] = _row(db, entry.id)

        def record(db: sqlite3.Connection, report: ChangeReport) -> None:
            changed = set(report.added + report.updated)
            for entry in entries:
                if entry.id not in changed:
                    continue
                before = previous[entry.id]
                version = _version_after(db, entry.id, report)
                _keep_previous(db, entry.id, before)
                base = before.version if before else None
                revision_id = _insert_published(db, entry, base, version, actor, f"导入：{source}")
                change = "updated" if before else "added"
                _audit(db, actor, "import", entry.id, revision_id, version, {"file": source, "change": change})

        return await self.kb.publish(list(entries), author=actor.name, before=check, within=record)

    async def add_similar_question(self, entry_id: str, text: str, actor: Actor) -> int:
        """Add a citizen's wording to a Q&A's similar questions (a guide's aliases), published at once;
        returns the new version."""
        wording = " ".join(str(text or "").split())
        if not wording:
            raise CurationError("请填写要加入的问法。")
        if len(wording) > MAX_SIMILAR_CHARS:
            raise CurationError(f"问法太长了，最多 {MAX_SIMILAR_CHARS} 字。")
        found = self.store.get_with_version(entry_id)
        if found is None:
            raise NotFoundError("没有这个已发布的条目。")
        entry, version = found
        data = _entry_json(entry)
        if isinstance(entry, QA):
            listed = data["similar"]
        elif isinstance(entry, Guide):
            listed = data.setdefault("aliases", [])
        else:
            raise CurationError("服务网点没有相似问法，请选择一个问答或办事指南。")
        if wording in listed or wording == entry_title(entry):
            raise CurationError("这个条目已经有这个问法了。")
        if len(listed) >= MAX_LIST_ITEMS:
            raise CurationError(f"相似问法已有 {len(listed)} 条，不能再加，请先整理。")
        listed.append(wording)
        _need(actor, CURATION)
        return await self._publish_new_version(
            validate(data), version, actor, "add_similar_question", None, {"text": wording}
        )

    async def rollback(self, entry_id: str, to_version: int, actor: Actor, note: str | None = None) -> int:
        """Publish the content of an earlier version as a new version (reviewer/admin)."""
        _need(actor, REVIEW)
        note = _note(note)
        current = self.store.version(entry_id)
        if current is None:
            raise TransitionError("只能回滚已发布的条目（已归档的请先恢复）。")
        if int(to_version) == current:
            raise TransitionError("这就是当前版本，无需回滚。")
        entry = validate(self.version_data(entry_id, int(to_version)))
        detail = {"from_version": current, "to_version": int(to_version)}
        return await self._publish_new_version(entry, current, actor, "rollback", note, detail)

    async def archive(self, entry_id: str, actor: Actor, note: str | None = None) -> None:
        """Take a published entry out of the store and search; its history stays (reviewer/admin)."""
        _need(actor, REVIEW)
        note = _note(note)
        previous: list[_Row] = []

        def check(db: sqlite3.Connection) -> None:
            row = _row(db, entry_id)
            if row is None:
                raise NotFoundError("没有这个已发布的条目。")
            previous.append(row)

        def record(db: sqlite3.Connection, report: ChangeReport) -> None:
            row = previous[0]
            _keep_previous(db, entry_id, row)
            db.execute(
                "UPDATE kb_revisions SET state = 'superseded', updated_at = ?,"
                " note = CASE WHEN state = 'published' THEN note ELSE '条目已归档，草稿随之关闭' END"
                " WHERE entry_id = ? AND state IN ('published', 'draft', 'in_review', 'rejected')",
                (now(), entry_id),
            )
            data = json.loads(row.data)
            db.execute(
                "INSERT INTO kb_archived (entry_id, kind, domain, title, data, version, archived_at, archived_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (entry_id, row.kind, data.get("domain", ""), _title_of(data), row.data, row.version, now(), actor.name),
            )
            _audit(db, actor, "archive", entry_id, None, row.version, {"note": note} if note else None)

        await self.kb.withdraw([entry_id], before=check, within=record)

    async def restore(self, entry_id: str, actor: Actor, note: str | None = None) -> int:
        """Bring an archived entry back as a new published version (reviewer/admin)."""
        _need(actor, REVIEW)
        note = _note(note)
        archived = self._archived(self.store.connection(), entry_id)
        if archived is None:
            raise NotFoundError("这个条目没有归档。")
        entry = validate(archived["data"])
        old_version = int(archived["version"])
        published: list[int] = []

        def check(db: sqlite3.Connection) -> None:
            if db.execute("DELETE FROM kb_archived WHERE entry_id = ?", (entry_id,)).rowcount != 1:
                raise NotFoundError("这个条目没有归档。")
            if _row(db, entry_id) is not None:
                raise ConflictError("这个编号已有已发布的条目。", None)

        def record(db: sqlite3.Connection, report: ChangeReport) -> None:
            version = _version_after(db, entry_id, report)
            stamp = now()
            cursor = db.execute(
                "INSERT INTO kb_revisions (entry_id, kind, data, state, base_version, published_version, author,"
                " last_editor, reviewer, created_at, updated_at, note, edit)"
                " VALUES (?, ?, ?, 'published', ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    entry_id,
                    entry.kind,
                    _dumps(_entry_json(entry)),
                    old_version,
                    version,
                    actor.name,
                    actor.name,
                    actor.name,
                    stamp,
                    stamp,
                    note or "从归档恢复",
                ),
            )
            _audit(
                db, actor, "restore", entry_id, int(cursor.lastrowid or 0), version, {"note": note} if note else None
            )
            published.append(version)

        await self.kb.publish(
            [entry], author=actor.name, before=check, within=record, min_versions={entry_id: old_version + 1}
        )
        return published[0]


@dataclass(frozen=True)
class _Row:
    """An entry's store row as it was before a publish replaced it."""

    data: str
    kind: str
    version: int
    updated_at: str
    updated_by: str


def _row(db: sqlite3.Connection, entry_id: str) -> _Row | None:
    row = db.execute(
        "SELECT data, kind, version, updated_at, updated_by FROM entries WHERE id = ?", (entry_id,)
    ).fetchone()
    return _Row(*row) if row else None


def _version_after(db: sqlite3.Connection, entry_id: str, report: ChangeReport) -> int:
    if entry_id not in report.changed:
        raise TransitionError("内容与已发布版本相同，没有发布新版本。")
    return int(db.execute("SELECT version FROM entries WHERE id = ?", (entry_id,)).fetchone()[0])


def _keep_previous(db: sqlite3.Connection, entry_id: str, previous: _Row | None) -> None:
    """Before a new version replaces `previous`: keep it in history (entries loaded from the data
    files have no revision yet, so rollback to them works), and mark it superseded."""
    if previous is not None:
        known = db.execute(
            "SELECT 1 FROM kb_revisions WHERE entry_id = ? AND published_version = ?", (entry_id, previous.version)
        ).fetchone()
        if known is None:
            db.execute(
                "INSERT INTO kb_revisions (entry_id, kind, data, state, base_version, published_version, author,"
                " last_editor, created_at, updated_at, note, edit)"
                " VALUES (?, ?, ?, 'superseded', NULL, ?, ?, ?, ?, ?, '修改前的已发布版本', 1)",
                (
                    entry_id,
                    previous.kind,
                    previous.data,
                    previous.version,
                    previous.updated_by,
                    previous.updated_by,
                    previous.updated_at,
                    previous.updated_at,
                ),
            )
    db.execute("UPDATE kb_revisions SET state = 'superseded' WHERE entry_id = ? AND state = 'published'", (entry_id,))


# -- small helpers ---------------------------------------------------------------------------------


def _need(actor: Actor, roles: frozenset[str]) -> None:
    if actor.role not in roles:
        raise NotAllowedError("您的账号没有这项权限。")


def _note(note: Any) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise CurationError("说明应为文字。")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise CurationError(f"说明太长了，最多 {MAX_NOTE_CHARS} 字。")
    return note or None


def _title_of(data: Mapping[str, Any]) -> str:
    return str(data.get("title") or data.get("question") or data.get("name") or data.get("id") or "")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _insert_published(
    db: sqlite3.Connection, entry: Entry, base_version: int | None, version: int, actor: Actor, note: str | None
) -> int:
    """The revision row of a version published without review (direct change, rollback, import)."""
    stamp = now()
    cursor = db.execute(
        "INSERT INTO kb_revisions (entry_id, kind, data, state, base_version, published_version, author,"
        " last_editor, reviewer, created_at, updated_at, note, edit)"
        " VALUES (?, ?, ?, 'published', ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (
            entry.id,
            entry.kind,
            _dumps(_entry_json(entry)),
            base_version,
            version,
            actor.name,
            actor.name,
            actor.name,
            stamp,
            stamp,
            note,
        ),
    )
    return int(cursor.lastrowid or 0)


def _audit(
    db: sqlite3.Connection,
    actor: Actor,
    action: str,
    entry_id: str | None,
    revision_id: int | None,
    version: int | None,
    detail: Mapping[str, Any] | None,
) -> None:
    db.execute(
        "INSERT INTO kb_audit (at, actor, action, entry_id, revision_id, version, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now(), actor.name, action, entry_id, revision_id, version, _dumps(dict(detail)) if detail else None),
    )
