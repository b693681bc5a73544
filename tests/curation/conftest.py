"""Fixtures for the curation suites (helpers in curation_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "bot", HERE.parent / "helpdesk", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
