"""Import and export in the knowledge-base console (/kb/transfer).

    upload  POST /api/kb/transfer/check?name=<file name>   (editor, reviewer, admin)
            the file (CSV/XLSX/YAML) is kept under <data dir>/kb-uploads/<token>/ and checked:
            bad rows (row, column, reason), what would be added or changed, duplicates and
            near-duplicates against stored entries and within the file.  Nothing is written.
    commit  POST /api/kb/transfer/commit {"upload": token, "confirm_duplicates": bool}   (reviewer, admin)
            checked again against the store as it is now; all-or-nothing; every changed entry gets
            a published revision (history, diff, rollback) and an audit row in the same transaction.
    export  GET  /api/kb/transfer/export?format=csv|xlsx|yaml&kind=&domain=   (editor, reviewer, admin)
    template GET /api/kb/transfer/template?format=csv|xlsx   (editor, reviewer, admin)
    vectors GET  /api/kb/transfer/vectors   (editor, reviewer, admin)
            the sentence vectors' progress: entries with and without them, texts encoded of the
            current run, its state (encoding / done / waiting / interrupted); the page polls it
            after a commit.  Search works lexically for entries without vectors meanwhile.

At startup the service starts encoding whatever entries lack vectors (a first load, or an
encoding cut short by a restart), in the background (knowledge_base/vector_builder.py).

check and commit take `repeats` (first / last / merge: what to do with a question asked in several
rows); commit also takes `mode`: `all` (the default: every row must be good, all published at
once) or `drafts` (the good rows become drafts for review, the bad rows are reported and left out).
Rows with an empty answer are always skipped and reported.

The upload is read as the raw request body (not JSON), so a spreadsheet may be larger than the
service's JSON body limit; MAX_UPLOAD_BYTES bounds it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import staff_pages
from bot.access import json_body, require, require_changing
from bot.curation import actor_of, curation_of
from bot.keys import CONFIG
from bot.responses import RefusedError, ok
from bot.shared.roles import CURATION, REVIEW

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
FORMATS = {"csv": ".csv", "xlsx": ".xlsx", "yaml": ".yml"}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "yaml": "application/x-yaml; charset=utf-8",
}
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

routes = web.RouteTableDef()


def uploads_dir(app: web.Application) -> Path:
    return app[CONFIG].data_dir / "kb-uploads"


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".yml", ".yaml"):
        raise RefusedError(400, "bad_file_type", "只能上传 .csv、.xlsx、.yml 或 .yaml 文件。 / Use CSV, XLSX or YAML.")
    return suffix


async def _read_upload(request: web.Request) -> bytes:
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise RefusedError(
                413, "too_large", f"文件太大，最多 {MAX_UPLOAD_BYTES // 1024 // 1024} MB。 / The file is too large."
            )
    if not data:
        raise RefusedError(400, "empty_file", "文件是空的。 / The file is empty.")
    return bytes(data)


def _upload_path(app: web.Application, token: Any) -> Path:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise RefusedError(400, "bad_upload", "请先上传并检查文件。 / Upload and check the file first.")
    folder = uploads_dir(app) / token
    files = sorted(folder.glob("upload.*")) if folder.is_dir() else []
    if not files:
        raise RefusedError(404, "upload_gone", "找不到这个上传的文件，请重新上传。 / The upload is gone; upload again.")
    return files[0]


def _repeats(value: Any) -> str:
    from knowledge_base.transfer import REPEAT_POLICIES

    if value in (None, ""):
        return "first"
    if value not in REPEAT_POLICIES:
        raise RefusedError(400, "bad_repeats", "重复问题的处理方式只能是保留第一条、保留最后一条或合并答案。")
    return str(value)


async def _check(app: web.Application, path: Path, name: str, repeats: str = "first") -> Any:
    from knowledge_base.loader import KnowledgeBaseError
    from knowledge_base.transfer import ImportCheck, check_import

    existing = curation_of(app).store.all()
    try:
        # Parsing a sheet and tokenizing every question is CPU work: off the event loop.
        check = await asyncio.to_thread(check_import, path, existing, repeats)
    except KnowledgeBaseError as err:  # the header or the file type itself is wrong
        check = ImportCheck(path.name, [], err.problems, [])
    except Exception as err:  # a file that is not what its name says (broken XLSX, binary "CSV")
        from knowledge_base.loader import Problem

        check = ImportCheck(path.name, [], [Problem(path.name, "(file)", "(file)", f"无法读取文件：{err}")], [])
    check.file = name
    return check


@routes.post("/api/kb/transfer/check")
async def post_check(request: web.Request) -> web.Response:
    require_changing(request, CURATION)
    name = request.query.get("name", "")
    suffix = _suffix(name)
    data = await _read_upload(request)
    token = secrets.token_hex(16)
    folder = uploads_dir(request.app) / token
    folder.mkdir(parents=True)
    path = folder / f"upload{suffix}"
    path.write_bytes(data)
    check = await _check(request.app, path, Path(name).name[:200], _repeats(request.query.get("repeats")))
    if not check.entries:
        shutil.rmtree(folder, ignore_errors=True)  # nothing to commit: keep nothing
    # With bad rows, the good ones can still be imported as drafts (commit mode "drafts").
    return ok({"upload": token if check.entries else None, **check.to_dict()})


@routes.post("/api/kb/transfer/commit")
async def post_commit(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    path = _upload_path(request.app, body.get("upload"))
    name = str(body.get("name") or path.name)[:200]
    mode = body.get("mode", "all")
    if mode not in ("all", "drafts"):
        raise RefusedError(400, "bad_mode", "导入方式只能是全部发布（all）或只导入正确的行为草稿（drafts）。")
    check = await _check(request.app, path, name, _repeats(body.get("repeats")))
    if mode == "all" and not check.ok:
        return ok({"committed": False, **check.to_dict()}, status=422)
    if check.duplicates and body.get("confirm_duplicates") is not True:
        raise RefusedError(
            409, "duplicates", "文件里有重复或相似的条目，请确认后再导入。 / Confirm the duplicates first."
        )
    result = check.to_dict()
    if mode == "drafts":
        drafted = await asyncio.to_thread(_save_drafts, request.app, check.good_rows_only().entries, session, name)
        shutil.rmtree(path.parent, ignore_errors=True)
        return ok({**result, "committed": True, "mode": "drafts", "drafts": drafted})
    report = await curation_of(request.app).publish_import(check.entries, actor_of(session), name)
    shutil.rmtree(path.parent, ignore_errors=True)
    return ok(
        {
            **result,
            "committed": True,
            "mode": "all",
            "file": name,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
        }
    )


def _save_drafts(app: web.Application, entries: list[Any], session: Any, name: str) -> list[str]:
    """Each good row as a draft of its entry (new, or on top of the published version), for review."""
    from knowledge_base.curation import CurationError

    curation = curation_of(app)
    actor = actor_of(session)
    saved = []
    db = curation.store.connection()
    for entry in entries:
        row = db.execute("SELECT version FROM entries WHERE id = ?", (entry.id,)).fetchone()
        base = row[0] if row else None
        try:
            curation.save_draft(entry.dict(exclude_none=True), base, None, actor, note=f"导入：{name}"[:200])
        except CurationError:
            continue  # an open draft by someone else, an archived entry: left for the reviewer to see
        saved.append(entry.id)
    return saved


@routes.get("/api/kb/transfer/facets")
async def get_facets(request: web.Request) -> web.Response:
    """Kinds and domains with their counts, for the export filter."""
    require(request, CURATION)
    from knowledge_base.loader import domain_names

    return ok({"stats": curation_of(request.app).store.stats(), "domain_names": domain_names()})


@routes.get("/api/kb/transfer/export")
async def get_export(request: web.Request) -> web.Response:
    require(request, CURATION)
    from knowledge_base.transfer import select, write_export

    fmt = request.query.get("format", "yaml")
    kind = request.query.get("kind") or None
    domain = request.query.get("domain") or None
    if fmt not in FORMATS:
        raise RefusedError(400, "bad_format", "格式只能是 csv、xlsx 或 yaml。 / format: csv, xlsx or yaml.")
    if kind not in (None, "guide", "qa", "center"):
        raise RefusedError(400, "bad_kind", "类型只能是 guide、qa 或 center。 / kind: guide, qa or center.")
    if fmt != "yaml" and kind not in (None, "qa"):
        raise RefusedError(
            400, "bad_kind", "CSV/XLSX 只能导出问答，办事指南和服务网点请用 YAML。 / CSV/XLSX hold Q&A only."
        )
    entries = select(curation_of(request.app).store.all(), kind=kind, domain=domain)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"export{FORMATS[fmt]}"
        await asyncio.to_thread(write_export, entries, target)
        data = target.read_bytes()
    name = "-".join(part for part in ("jsb-kb", kind, domain) if part) + FORMATS[fmt]
    safe = re.sub(r"[^0-9A-Za-z._-]", "_", name)
    return web.Response(
        body=data,
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{safe}",
            "Cache-Control": "no-store",
        },
    )


@routes.get("/api/kb/transfer/template")
async def get_template(request: web.Request) -> web.Response:
    """The import template: the Chinese header and one example row."""
    require(request, CURATION)
    from knowledge_base.transfer import write_template

    fmt = request.query.get("format", "xlsx")
    if fmt not in ("csv", "xlsx"):
        raise RefusedError(400, "bad_format", "模板格式只能是 csv 或 xlsx。 / format: csv or xlsx.")
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"template.{fmt}"
        write_template(target)
        data = target.read_bytes()
    name = f"jsb-kb-import-template.{fmt}"
    return web.Response(
        body=data,
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@routes.get("/api/kb/transfer/vectors")
async def get_vectors(request: web.Request) -> web.Response:
    require(request, CURATION)
    from knowledge_base.vector_builder import read_progress

    store = curation_of(request.app).store
    # Reading every entry's wordings is ~50 ms at 2,000 entries: off the event loop.
    return ok(await asyncio.to_thread(_read_progress_in_worker, store, read_progress))


def _read_progress_in_worker(store: Any, read_progress: Any) -> dict[str, Any]:
    try:
        return dict(read_progress(store))
    finally:
        store.close()  # this worker thread's connection


async def _encode_missing_vectors(app: web.Application) -> None:
    """Entries left without vectors (a first load, a restart mid-encoding) are encoded now, in
    the background; nothing waits for it."""
    from knowledge_base.settings import Settings

    settings = Settings.from_env()
    if settings.dense and settings.db_path.exists():
        from knowledge_base.vector_builder import builder_for

        builder_for(settings.db_path).start()


async def _stop_encoding(app: web.Application) -> None:
    """What is encoded stays stored; the next start goes on with the rest."""
    from knowledge_base.settings import Settings
    from knowledge_base.vector_builder import builder_for

    builder = builder_for(Settings.from_env().db_path)
    if builder.running:
        await asyncio.to_thread(builder.stop, 10)


def setup(app: web.Application) -> None:
    app.on_startup.append(_encode_missing_vectors)
    app.on_cleanup.append(_stop_encoding)
    app.add_routes(routes)
    staff_pages.add_page(app, "/kb/transfer", "transfer.html", CURATION)
