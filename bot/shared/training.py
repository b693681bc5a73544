"""The one `rasa train` command of the project: scripts/train.sh runs it at start, the console's
retrain (bot/retrain.py, BOT_RETRAIN_COMMAND's default) runs it when published names change.

    python -m bot.shared.training LOOKUPS_DIR OUT_DIR [more `rasa train` options]

The lookup tables (knowledge_base.nlu_lookups) are generated first and passed as a second data folder.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

# {python}, {lookups} and {out} are filled in (shell-quoted); BOT_RETRAIN_COMMAND may replace it.
TEMPLATE = (
    "{python} -m rasa train --config config.yml --domain domain.yml --data nlu_data {lookups} "
    "--out {out} --fixed-model-name jishiban"
)


def command(lookups: Path | str, out: Path | str, template: str = TEMPLATE, python: str = sys.executable) -> list[str]:
    """The training command as an argument list, run from the repository root."""
    filled = template.format(python=shlex.quote(python), lookups=shlex.quote(str(lookups)), out=shlex.quote(str(out)))
    return shlex.split(filled)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: python -m bot.shared.training LOOKUPS_DIR OUT_DIR [rasa train options]")
    argv_out = [*command(argv[0], argv[1]), *argv[2:]]
    os.execv(argv_out[0], argv_out)  # becomes the training process: its exit code is the script's


if __name__ == "__main__":
    main(sys.argv[1:])
