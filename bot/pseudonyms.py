"""Keyed pseudonyms for what calling apps use as a citizen's id (often the phone number).

The REST API matches a citizen's messages to their conversation by the app's `user_id`.  Stored as
typed, the conversations table would hold raw phone numbers; stored as a plain hash, the 10^10
possible mobile numbers are hashed back in minutes.  So it is an HMAC-SHA256 under a key kept in a
file beside the database (JSB_DATA_DIR/pseudonym.key, created on first use, mode 0600): with the
database alone the ids cannot be reversed.  Losing the key only means returning REST citizens start
a new conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "pseudonym.key"


def load_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def pseudonym(key: bytes, value: str) -> str:
    """'13812345678' -> 'h:3f9c…' (32 hex digits): the same for the same id, unreadable without the key."""
    return "h:" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
