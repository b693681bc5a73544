"""bot.rasa_endpoints: endpoints.yml as it is by default; with RASA_TRACKER_URL / RASA_LOCK_REDIS_URL
a copy whose tracker and lock stores are PostgreSQL and Redis, naming the variables, not their values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.rasa_endpoints import endpoints_file, with_endpoints

ENDPOINTS = str(Path(__file__).resolve().parents[2] / "endpoints.yml")
PG = "postgresql://rasa:s3cret@db.example:5432/rasa"
REDIS = "redis://:s3cret@redis.example:6379/1"


def test_the_embedded_default_is_endpoints_yml_itself() -> None:
    assert endpoints_file(ENDPOINTS, {}) == ENDPOINTS
    argv = ["rasa", "run", "--endpoints", ENDPOINTS, "--port", "5005"]
    assert with_endpoints(argv, {}) == argv


def test_the_engines_replace_only_their_sections() -> None:
    argv = with_endpoints(["rasa", "run", "--endpoints", ENDPOINTS, "--port", "5005"], {"RASA_TRACKER_URL": PG})
    copy = argv[3]
    assert copy != ENDPOINTS and argv[4:] == ["--port", "5005"]
    written = yaml.safe_load(Path(copy).read_text())
    original = yaml.safe_load(Path(ENDPOINTS).read_text())
    tracker = {"type": "bot.rasa_tracker_store.SQLiteTrackerStore", "url": "${RASA_TRACKER_URL}"}
    assert written["tracker_store"] == tracker
    assert written["lock_store"] == original["lock_store"]  # no Redis named: the SQLite lock file stays
    assert written["action_endpoint"] == original["action_endpoint"]
    assert "s3cret" not in Path(copy).read_text()  # Rasa substitutes the URL when it reads the file

    both_path = endpoints_file(ENDPOINTS, {"RASA_TRACKER_URL": PG, "RASA_LOCK_REDIS_URL": REDIS})
    both = yaml.safe_load(Path(both_path).read_text())
    assert both["lock_store"] == {"type": "bot.rasa_redis_lock.RedisLockStore", "url": "${RASA_LOCK_REDIS_URL}"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RASA_TRACKER_URL", "postgres://u@h/rasa"),
        ("RASA_TRACKER_URL", "sqlite:///x.db"),
        ("RASA_LOCK_REDIS_URL", "h:6379"),
    ],
)
def test_a_wrong_url_is_refused_with_an_example(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\."):
        endpoints_file(ENDPOINTS, {name: value})
