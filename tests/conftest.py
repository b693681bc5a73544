"""Fixtures shared by every suite."""

from kb_fixtures import kb, loaded_db  # noqa: F401 - fixtures are found by name
