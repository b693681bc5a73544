"""Every knowledge-base setting, read from the environment in one place.

| variable           | default                      | meaning                                   |
|--------------------|------------------------------|-------------------------------------------|
| JSB_DATA_DIR       | <repo>/var                   | where the project keeps its runtime files |
| KB_DB              | $JSB_DATA_DIR/kb.sqlite3     | the knowledge-base store                  |
| KB_BACKEND         | embedded                     | embedded or elasticsearch                 |
| KB_ES_URL          | (none)                       | Elasticsearch 8 URL, for that backend     |
| KB_ES_USER/KB_ES_PASSWORD, KB_ES_CA, KB_ES_INDEX_PREFIX (jsb-kb)                       |
| KB_ES_API_KEY      | (none)                       | API key (instead of user and password)    |
| KB_ES_TIMEOUT      | 2                            | seconds a query may take before fallback  |
| KB_ES_HEALTH_INTERVAL | 15                        | seconds between cluster health checks     |
| KB_ALLOW_SELF_APPROVAL | false                    | may a reviewer approve a change they made |
| KB_DENSE           | true                         | re-rank search hits with sentence vectors (search/dense.py) |
| KB_ENCODE_THREADS  | 1                            | OpenMP threads of the shared encoder in commands |
| KB_ENCODE_WORKERS  | cores                        | encoder threads for many entry vectors (vector_builder.py) |
See docs/elasticsearch.md for the Elasticsearch backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_path: Path
    backend: str = "embedded"
    es_url: str | None = None
    es_user: str | None = None
    es_password: str | None = None
    es_ca: str | None = None
    es_index_prefix: str = "jsb-kb"
    es_api_key: str | None = None
    es_timeout: float = 2.0
    es_health_interval: float = 15.0
    allow_self_approval: bool = False  # knowledge_base.curation: four eyes on every reviewed change
    dense: bool = True  # search/dense.py: sentence-vector re-ranking of the lexical hits

    @classmethod
    def from_env(cls, db_path: str | Path | None = None) -> Settings:
        env = os.environ
        data_dir = Path(env.get("JSB_DATA_DIR") or REPO_ROOT / "var")
        return cls(
            data_dir=data_dir,
            db_path=Path(db_path or env.get("KB_DB") or data_dir / "kb.sqlite3"),
            backend=env.get("KB_BACKEND", "embedded"),
            es_url=env.get("KB_ES_URL") or None,
            es_user=env.get("KB_ES_USER") or None,
            es_password=env.get("KB_ES_PASSWORD") or None,
            es_ca=env.get("KB_ES_CA") or None,
            es_index_prefix=env.get("KB_ES_INDEX_PREFIX", "jsb-kb"),
            es_api_key=env.get("KB_ES_API_KEY") or None,
            es_timeout=_seconds(env, "KB_ES_TIMEOUT", 2.0),
            es_health_interval=_seconds(env, "KB_ES_HEALTH_INTERVAL", 15.0),
            allow_self_approval=_flag(env, "KB_ALLOW_SELF_APPROVAL", False),
            dense=_flag(env, "KB_DENSE", True),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be more than 0 seconds, not {raw!r}")
    return value
