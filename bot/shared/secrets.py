"""Secrets shared between the processes (Rasa's token, the action server's secret), read from the
environment or from a file the environment names (systemd: docs/security.md), never from argv.

Kept apart from bot/rasa_channel.py so the action server can read its secret without importing
Rasa's channels: that import alone was about two thirds of the action server's start.
"""

from __future__ import annotations

import os
from pathlib import Path


def configured_secret(name: str) -> str | None:
    """$NAME, else the content of the file named by $NAME_FILE."""
    secret = os.environ.get(name, "").strip()
    if not secret and os.environ.get(f"{name}_FILE"):
        secret = Path(os.environ[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
    return secret or None
