"""`make run`'s terminal (scripts/console.py through scripts/supervise.py): the assistant's own lines
and errors shown, third-party warnings and start-up chatter only in the log, progress bars only on a
terminal.  The lines are the ones the real processes write (tests' rasa_stack logs)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from console import Console  # noqa: E402

SITE = "/repo/.venv/lib/python3.10/site-packages"
STARTUP = [
    f"{SITE}/sanic_cors/extension.py:39: DeprecationWarning: distutils Version classes are deprecated.",
    "  SANIC_VERSION = LooseVersion(sanic_version)",
    "2026-12-08 00:48:56 WARNING  __main__  - ACTION_SECRET is not set: the action server accepts any caller",
    f"{SITE}/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to `declare_namespace('ruamel')`.",
    "Implementing implicit namespace packages (as specified in PEP 420) is preferred.",
    "  declare_namespace(pkg)",
    "2026-12-08 00:48:57 INFO     rasa_sdk.executor  - Registered function for 'action_answer'.",
    '{"ts": "2026-12-08T03:02:42.991", "level": "info", "logger": "aiohttp.access", '
    '"event": "127.0.0.1 \\"GET /readyz HTTP/1.1\\" 503 299 0.012052s"}',
    f"{SITE}/rasa/core/tracker_store.py:1044: MovedIn20Warning: Deprecated API features detected!",
    "2026-12-08 00:49:01 INFO     root  - Starting Rasa server on http://0.0.0.0:36783",
    "Traceback (most recent call last):",
    '  File "/repo/actions/answers.py", line 3, in run',
    "KeyError: 'entry'",
]
SHOWN = [STARTUP[2], STARTUP[9], *STARTUP[10:]]


def _run(lines: list[str], tty: bool) -> tuple[list[str], list[str]]:
    terminal, log = io.StringIO(), io.StringIO()
    console = Console(terminal, log, tty=tty, width=7)
    for line in lines:
        console.say("actions", line)
    strip = len("actions | ")
    return (
        [line[strip:] for line in terminal.getvalue().splitlines()],
        [line[20 + strip :] for line in log.getvalue().splitlines()],
    )


def test_third_party_warnings_and_chatter_reach_only_the_log() -> None:
    shown, logged = _run(STARTUP, tty=True)
    assert shown == SHOWN  # the warning without a source line did not swallow the next record
    assert logged == STARTUP


def test_progress_bars_show_their_last_state_on_a_terminal_only() -> None:
    bar = "Epochs:   0%|          | 0/100\rEpochs:  50%|#####     | 50/100\rEpochs: 100%|##########| 100/100"
    on_terminal, logged = _run([bar, "done"], tty=True)
    off_terminal, _ = _run([bar, "done"], tty=False)
    assert on_terminal == ["Epochs: 100%|##########| 100/100", "done"]
    assert off_terminal == ["done"]
    assert logged == ["Epochs: 100%|##########| 100/100", "done"]


def test_a_step_run_once_keeps_its_exit_status_and_logs_everything(tmp_path: Path) -> None:
    library = tmp_path / "site-packages" / "lib" / "x.py"  # a library's file: the warning quotes its line
    library.parent.mkdir(parents=True)
    library.write_text("import os\nVERSION = LooseVersion(os.name)\n", encoding="utf-8")
    script = (
        "import sys, warnings; "
        f"warnings.warn_explicit('old API', DeprecationWarning, {str(library)!r}, 2); "
        "print('kb: 366 entries loaded', flush=True); sys.exit(3)"
    )
    log = tmp_path / "run.log"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "supervise.py"),
            "--log",
            str(log),
            "--once",
            f'kb={sys.executable} -W always -c "{script}"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert done.stdout.splitlines() == ["kb        | kb: 366 entries loaded"]
    logged = log.read_text(encoding="utf-8")
    assert "DeprecationWarning: old API" in logged and "VERSION = LooseVersion" in logged
    assert "kb: 366 entries loaded" in logged
