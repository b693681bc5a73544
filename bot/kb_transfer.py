"""Import and export in the knowledge-base console (/kb/transfer).

    upload  POST /api/kb/transfer/check?name=<file name>   (editor, reviewer, admin)
            the file (CSV/XLSX/YAML) is kept under <data dir>/kb-uploads/<token>/ and checked:
            bad rows (row, column, reason), what would be added or changed, duplicates and
            near-duplicates against stored entries and within the file.  Nothing is written.
    commit  POST /api/kb/transfer/commit {"upload": token, "confirm_duplicates": bool}   (reviewer, admin)
            checked again against the store as it is now; all-or-nothing; every changed entry gets
            a published revision (history, diff, rollback) and an audit row in the same transaction.
    export  GET  /api/kb/transfer/export?format=csv|xlsx|yaml&kind=&domain=   (editor, reviewer, admin)

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

from bot import access, staff_pages
from bot.access import CURATION, REVIEW, RefusedError, json_body, ok, require, require_changing
from bot.curation import actor_of, curation_of
from bot.keys import CONFIG

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


async def _check(app: web.Application, path: Path, name: str) -> Any:
    from knowledge_base.loader import KnowledgeBaseError
    from knowledge_base.transfer import ImportCheck, check_import

    existing = curation_of(app).store.all()
    try:
        # Parsing a sheet and tokenizing every question is CPU work: off the event loop.
        check = await asyncio.to_thread(check_import, path, existing)
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
    check = await _check(request.app, path, Path(name).name[:200])
    if not check.ok:
        shutil.rmtree(folder, ignore_errors=True)  # nothing to commit: keep nothing
    return ok({"upload": token if check.ok else None, **check.to_dict()})


@routes.post("/api/kb/transfer/commit")
async def post_commit(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    path = _upload_path(request.app, body.get("upload"))
    name = str(body.get("name") or path.name)[:200]
    check = await _check(request.app, path, name)
    if not check.ok:
        return ok({"committed": False, **check.to_dict()}, status=422)
    if check.duplicates and body.get("confirm_duplicates") is not True:
        raise RefusedError(
            409, "duplicates", "文件里有重复或相似的条目，请确认后再导入。 / Confirm the duplicates first."
        )
    report = await curation_of(request.app).publish_import(check.entries, actor_of(session), name)
    shutil.rmtree(path.parent, ignore_errors=True)
    return ok(
        {
            "committed": True,
            "file": name,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
        }
    )


@routes.get("/api/kb/transfer/facets")
async def get_facets(request: web.Request) -> web.Response:
    """Kinds and domains with their counts, for the export filter."""
    require(request, CURATION)
    return ok({"stats": curation_of(request.app).store.stats()})


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


def setup(app: web.Application) -> None:
    access.setup(app)
    app.add_routes(routes)
    staff_pages.add_page(app, "/kb/transfer", "transfer.html", CURATION)
