"""bot/shared: what the three processes share stays importable by each without the bot service."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from bot.shared import roles, training

SHARED = Path(__file__).resolve().parents[2] / "bot" / "shared"


@pytest.mark.parametrize("module", sorted(SHARED.glob("*.py")), ids=lambda path: path.name)
def test_shared_modules_import_the_standard_library_only(module: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


def test_the_training_command_quotes_its_folders() -> None:
    argv = training.command(Path("/tmp/with space/lookups"), "/tmp/out", python="/venv/bin/python")
    assert argv[:4] == ["/venv/bin/python", "-m", "rasa", "train"]
    assert argv[argv.index("nlu_data") + 1] == "/tmp/with space/lookups"
    assert argv[argv.index("--out") + 1] == "/tmp/out"


def test_every_role_set_names_known_roles_and_staff_covers_them_all() -> None:
    sets = [roles.HELPDESK, roles.CURATION, roles.REVIEW, roles.ANALYTICS, roles.ADMIN]
    assert all(group <= set(roles.ROLES) for group in sets)
    assert roles.STAFF == set(roles.ROLES)  # every account may log in
