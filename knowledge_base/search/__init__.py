"""Search backends behind one interface: `base.SearchBackend`.

`embedded` (SQLite FTS5, the default) needs nothing to run; `elasticsearch` serves districts that
outgrow one machine.  Callers only ever see `SearchBackend` and `SearchHit`.
"""

from .base import SearchBackend, SearchHit, prepare_query

__all__ = ["SearchBackend", "SearchHit", "prepare_query"]
