"""Background retraining of the Rasa model when the names NLU must recognise change (/kb/training).

    KB store generation changed (cheap poll, BOT_RETRAIN_POLL)
      └▶ lookup tables regenerated from the store (knowledge_base.nlu_lookups) into a temp dir
           └▶ fingerprint (sha256 of lookups.yml) equal to the current model's? nothing to do
           └▶ otherwise: training in a subprocess (BOT_RETRAIN_COMMAND, niced) into a staging dir,
                progress parsed from its output ──▶ PUT /model on the running Rasa (HTTP API)
                ──▶ the fingerprint and model are recorded in <BOT_RETRAIN_DIR>/state.json

One run at a time; a change during a run queues exactly one more run.  If training or the swap
fails, Rasa keeps the model it has, and the status (shown to reviewers) says why, with the end of
the training log.  The current model's fingerprint is the one recorded in state.json; before the
first retrain it is that of the lookup tables scripts/train.sh last wrote
($JSB_DATA_DIR/nlu_generated/lookups.yml), or, without those, of the store as it is at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot import curation, staff_pages
from bot.access import json_body, require, require_changing
from bot.config import REPO_ROOT, BotConfig
from bot.keys import CONFIG
from bot.logs import fields
from bot.rasa_client import instance_urls
from bot.responses import ok
from bot.shared import training
from bot.shared.roles import REVIEW

log = logging.getLogger(__name__)

LOG_TAIL = 80  # lines of the training output kept for the page
KEEP_RUNS = 5  # run folders (staged model, log) kept for looking into; the current model's always
SWAP_TIMEOUT_S = 300  # Rasa loads the new model before it answers the PUT
_STARTED = re.compile(r"Starting to train component '([^']+)'")
_FINISHED = re.compile(r"Finished training component '([^']+)'")
_EPOCHS = re.compile(r"Epochs:\s*(\d+)%")
_SAVED = re.compile(r"Your Rasa model is trained and saved at '([^']+)'")


def fingerprint(lookups: Path) -> str:
    return hashlib.sha256(lookups.read_bytes()).hexdigest()


def generate_lookups(kb_db: Path, out_dir: Path) -> Path:
    """The NLU lookup tables of the store's entries, written to out_dir/lookups.yml."""
    from knowledge_base.nlu_lookups import read_entries, write_lookups

    path, _ = write_lookups(out_dir, read_entries(kb_db))
    return path


class Retrainer:
    """Watches the knowledge base and keeps the running Rasa's model in step with its names."""

    def __init__(self, config: BotConfig, store: Callable[[], Any]) -> None:
        self.config = config
        self.store = store  # the curated knowledge base's store, opened on first use
        self.home = config.retrain_path
        self.state_file = self.home / "state.json"
        self._task: asyncio.Task[None] | None = None
        self._queued = False
        self._force = False
        self._generation: int | None = None
        self._tail: deque[str] = deque(maxlen=LOG_TAIL)
        self.status: dict[str, Any] = {
            "enabled": config.retrain == "on",
            "state": "idle",  # idle / checking / training / swapping
            "queued": False,
            "progress": None,
            "current": self._load_state(),
            "last_run": None,
            "runs": 0,
        }

    # -- state ---------------------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _save_state(self, current: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(current, ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(self.state_file)
        self.status["current"] = current

    def current_fingerprint(self) -> str | None:
        current = self.status["current"]
        return current.get("fingerprint") if current else None

    async def baseline(self) -> None:
        """Record what the running model was trained on, when no retrain has recorded it yet."""
        if self.current_fingerprint() is not None:
            return
        trained = self.config.data_dir / "nlu_generated" / "lookups.yml"
        if trained.is_file():
            value = fingerprint(trained)
            source = str(trained)
        else:
            with tempfile.TemporaryDirectory() as folder:
                value = fingerprint(await asyncio.to_thread(generate_lookups, self._kb_path(), Path(folder)))
            source = "knowledge base at start"
        self._save_state({"fingerprint": value, "model": None, "source": source, "at": time.time()})

    def _kb_path(self) -> Path:
        return Path(self.store().path)

    # -- watching ------------------------------------------------------------------------------

    async def watch(self) -> None:
        """The background task: poll the store's generation, start a run when it changes."""
        await self.baseline()
        self._generation = self.store().generation()
        while True:
            await asyncio.sleep(self.config.retrain_poll)
            try:
                generation = self.store().generation()
            except Exception:
                log.exception("retrain.poll_failed")
                continue
            if generation != self._generation:
                self._generation = generation
                self.request(f"知识库已更新（第 {generation} 版）")

    def request(self, reason: str, force: bool = False) -> None:
        """Start a run now, or queue one (only one) behind the run in progress."""
        self._force = self._force or force
        if self._task is not None and not self._task.done():
            self._queued = True
            self.status["queued"] = True
            return
        self._task = asyncio.create_task(self._runs(reason), name="retrain")

    async def wait_idle(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _runs(self, reason: str) -> None:
        while True:
            force, self._force = self._force, False
            try:
                await self._run_once(reason, force)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a bug must not kill the watcher; staff see it
                log.exception("retrain.crashed")
                self._finish("failed", f"内部错误：{err}")
            self._prune()
            if not self._queued:
                return
            self._queued = False
            self.status["queued"] = False
            reason = "训练期间知识库又有更新"

    def _prune(self) -> None:
        current = (self.status["current"] or {}).get("model") or ""
        runs = sorted((self.home / "runs").glob("*"), reverse=True)
        for old in runs[KEEP_RUNS:]:
            if not current.startswith(str(old) + os.sep):
                shutil.rmtree(old, ignore_errors=True)

    # -- one run -------------------------------------------------------------------------------

    async def _run_once(self, reason: str, force: bool) -> None:
        started = time.time()
        self.status["runs"] += 1
        self._tail.clear()
        self.status.update(state="checking", progress=None)
        self.status["last_run"] = {"reason": reason, "started_at": started, "result": "running", "log_tail": []}
        await self.baseline()  # before the first check (the watcher is off): the model as it is now
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
        run_dir = self.home / "runs" / f"{stamp}-{self.status['runs']:04d}"
        lookups_dir = run_dir / "nlu_generated"
        # This run trains on the store as it is now: changes the watcher has not seen yet are
        # included, so they must not queue another run of the same content.
        self._generation = self.store().generation()
        lookups = await asyncio.to_thread(generate_lookups, self._kb_path(), lookups_dir)
        new_print = fingerprint(lookups)
        self.status["last_run"]["fingerprint"] = new_print
        if new_print == self.current_fingerprint() and not force:
            shutil.rmtree(run_dir, ignore_errors=True)
            self._finish("unchanged", "服务名称和同义词没有变化，不需要重新训练。")
            return
        self.status["state"] = "training"
        staging = run_dir / "model"
        model = await self._train(lookups_dir, staging, run_dir / "train.log")
        if model is None:
            return
        self.status["state"] = "swapping"
        swapped = await self._swap(model)
        if not swapped:
            return
        if self.config.retrain_models_dir is not None:
            self.config.retrain_models_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(model, self.config.retrain_models_dir / "jishiban.tar.gz")
        self._save_state({"fingerprint": new_print, "model": str(model), "source": reason, "at": time.time()})
        self._finish("swapped", "新模型已训练完成并已启用。", model=str(model))

    async def _train(self, lookups_dir: Path, staging: Path, log_file: Path) -> Path | None:
        staging.mkdir(parents=True, exist_ok=True)
        command = training.command(lookups_dir, staging, self.config.retrain_command)
        if shutil.which("nice"):
            command = ["nice", "-n", "10", *command]  # citizens' answers come first
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
        log.info("retrain.training", extra=fields(command=" ".join(command)))
        progress: dict[str, Any] = {"components_done": 0, "component": None, "epochs_percent": None}
        self.status["progress"] = progress
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=REPO_ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            self._finish("failed", f"无法启动训练命令：{err}")
            return None
        saved: list[str] = []
        try:
            with log_file.open("w", encoding="utf-8") as sink:
                await asyncio.wait_for(self._follow(process, sink, progress, saved), self.config.retrain_timeout)
                code = await process.wait()
        except asyncio.TimeoutError:
            await _stop(process)
            self._finish("failed", f"训练超过 {self.config.retrain_timeout:.0f} 秒，已停止；仍在使用原来的模型。")
            return None
        except asyncio.CancelledError:
            await _stop(process)
            raise
        models = sorted(staging.glob("*.tar.gz"))
        if code != 0 or not models:
            why = f"训练失败（退出码 {code}），仍在使用原来的模型。" if code != 0 else "训练没有产出模型。"
            self._finish("failed", why)
            return None
        return Path(saved[-1]) if saved and Path(saved[-1]).is_file() else models[-1]

    async def _follow(
        self, process: asyncio.subprocess.Process, sink: Any, progress: dict[str, Any], saved: list[str]
    ) -> None:
        """Read the training output (tqdm bars end lines with \\r), keep a tail, track progress."""
        assert process.stdout is not None
        pending = ""
        while True:
            chunk = await process.stdout.read(4096)
            if not chunk:
                break
            text = chunk.decode("utf-8", errors="replace")
            sink.write(text)
            pending += text
            *lines, pending = re.split(r"[\r\n]", pending)
            for line in lines:
                self._line(line, progress, saved)
        if pending:
            self._line(pending, progress, saved)

    def _line(self, line: str, progress: dict[str, Any], saved: list[str]) -> None:
        line = line.rstrip()
        if not line:
            return
        if (match := _EPOCHS.search(line)) is not None:
            progress["epochs_percent"] = int(match.group(1))
            if self._tail and _EPOCHS.search(self._tail[-1]):
                self._tail[-1] = line  # one line per progress bar, not one per refresh
                return
        elif (match := _STARTED.search(line)) is not None:
            progress["component"] = match.group(1)
            progress["epochs_percent"] = None
        elif _FINISHED.search(line):
            progress["components_done"] += 1
        elif (match := _SAVED.search(line)) is not None:
            saved.append(match.group(1))
        self._tail.append(line[:500])
        self.status["last_run"]["log_tail"] = list(self._tail)

    async def _swap(self, model: Path) -> bool:
        """PUT /model on every running Rasa instance; an instance keeps its old model when this fails.
        One that is down (restarting) loads the new model from BOT_RETRAIN_MODELS_DIR when it starts."""
        params = {"token": self.config.rasa_token} if self.config.rasa_token else None
        failures: list[str] = []
        swapped = 0
        timeout = aiohttp.ClientTimeout(total=SWAP_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for base in instance_urls(self.config.rasa_url):
                try:
                    async with http.put(
                        base + "/model", json={"model_file": str(model.resolve())}, params=params
                    ) as response:
                        if response.status == 204:
                            swapped += 1
                            continue
                        failures.append((await response.text())[:300])
                except aiohttp.ClientConnectorError:
                    continue  # not running: it starts with the copied model
                except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                    failures.append(str(err) or type(err).__name__)
        if swapped and not failures:
            log.info("retrain.swapped", extra=fields(model=str(model), instances=swapped))
            return True
        detail = "; ".join(failures) or "no Rasa instance answered"
        why = f"新模型已训练好，但 Rasa 没有换上它（{detail}）；仍在使用原来的模型。"
        self._finish("failed", why, model=str(model))
        return False

    def _finish(self, result: str, message: str, model: str | None = None) -> None:
        run = self.status["last_run"] or {}
        run.update(result=result, message=message, finished_at=time.time(), log_tail=list(self._tail))
        if model:
            run["model"] = model
        self.status.update(state="idle", last_run=run)
        level = logging.WARNING if result == "failed" else logging.INFO
        log.log(level, "retrain.finished", extra=fields(result=result, detail=message))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        await asyncio.wait_for(process.wait(), 20)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        await process.wait()


RETRAINER = web.AppKey("retrainer", Retrainer)
routes = web.RouteTableDef()


@routes.get("/api/kb/training")
async def get_status(request: web.Request) -> web.Response:
    require(request, REVIEW)
    return ok(request.app[RETRAINER].status)


@routes.post("/api/kb/training/run")
async def post_run(request: web.Request) -> web.Response:
    """Check now (and train when the names changed); `force` trains even when they did not."""
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    retrainer = request.app[RETRAINER]
    retrainer.request(f"{session.helper.name} 手动启动", force=body.get("force") is True)
    return ok(retrainer.status, status=202)


async def _retrain_ctx(app: web.Application) -> Any:
    retrainer = app[RETRAINER]
    watcher = asyncio.create_task(retrainer.watch(), name="retrain-watch") if retrainer.status["enabled"] else None
    yield
    for task in (watcher, retrainer._task):
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def setup(app: web.Application) -> None:
    app[RETRAINER] = Retrainer(app[CONFIG], lambda: curation.curation_of(app).store)
    app.add_routes(routes)
    app.cleanup_ctx.append(_retrain_ctx)
    staff_pages.add_page(app, "/kb/training", "training.html", REVIEW)
