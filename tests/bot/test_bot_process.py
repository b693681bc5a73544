"""`python -m bot` as `make run` starts it: help, settings, masked JSON logs, graceful shutdown."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot_helpers import REPO, free_port, nobody_listening

from bot import texts


def run_bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_explains_every_setting():
    result = run_bot("--help")
    assert result.returncode == 0
    for words in ("RASA_URL", "BOT_PORT", "JSB_DATA_DIR", "TELEGRAM_TOKEN", "/readyz", "--config"):
        assert words in result.stdout


def test_print_config_hides_secrets(tmp_path: Path):
    result = run_bot(
        "--print-config",
        env={"TELEGRAM_TOKEN": "42:very-secret", "RASA_TOKEN": "rasa-secret", "JSB_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0
    printed = json.loads(result.stdout)
    assert printed["telegram_token"] == "***" and printed["rasa_token"] == "***"
    assert (
        "very-secret" not in result.stdout
        and "rasa-secret" not in result.stdout
        and printed["database"] == str(tmp_path / "bot.sqlite3")
    )


def test_bad_settings_stop_with_a_clear_message():
    result = run_bot("--print-config", env={"BOT_PORT": "99999"})
    assert result.returncode == 2 and "BOT_PORT" in result.stderr


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def test_runs_logs_json_masked_and_shuts_down_gracefully(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "BOT_PORT": str(port),
        "RASA_URL": nobody_listening(),
        "JSB_DATA_DIR": str(tmp_path),
        "BOT_LOG_LEVEL": "DEBUG",
        "BOT_APOLOGY_AFTER": "1",
    }
    # A calling app's key, made the way an operator makes one.
    key = subprocess.run(
        [sys.executable, "-m", "bot.apikeys", "create", "tests", "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/healthz") != 200:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the bot service did not start"
            time.sleep(0.2)
        assert _get(f"http://127.0.0.1:{port}/readyz") == 503  # Rasa is not running
        body = json.dumps({"user_id": "u1", "text": "我电话13812345678，身份证370125199001011234"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/messages", body, {"Content-Type": "application/json", "X-API-Key": key}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "pending" and answer["replies"][0]["text"] == texts.APOLOGY
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    logs = process.stderr.read() if process.stderr else ""
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "bot.started" in events and "bot.stopped" in events and "message.text" in events
    assert "13812345678" not in logs and "370125199001011234" not in logs
    assert any("138****5678" in str(line.get("text")) for line in lines)
    # Nothing was lost: the unanswered message waits in the database for the next start.
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        [(status,)] = db.execute("SELECT status FROM messages WHERE direction = 'in'").fetchall()
    assert status == "pending"
