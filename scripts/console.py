"""What of the assistant's output reaches the terminal under `make run` (scripts/supervise.py).

Every line goes to the log file (scripts/run.sh: $JSB_DATA_DIR/run.log), time-stamped and named,
as the process wrote it.  The terminal gets the assistant's own lines and every error, without:

- third-party warnings: a DeprecationWarning (or any other *Warning) raised in site-packages, with
  its message and source line (the libraries' own business; a newcomer cannot act on them);
- start-up chatter listed in CHATTER (rasa_sdk's line per registered action, the bot service's
  access-log line per readiness poll: the `ready` line says once that each component answers);
- progress bars when the output is no terminal: a line redrawn with carriage returns is shown as
  its last state on a terminal, and only kept (its last state) in the log elsewhere.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TextIO

# "/…/site-packages/sanic_cors/extension.py:39: DeprecationWarning: distutils Version classes …"
WARNING_HEADER = re.compile(r"^\S*[/\\]site-packages[/\\]\S+:\d+: \w*Warning: ")
# A warning is its header, lines of its message, then the source line indented by two spaces; a
# line that starts a new record (a time stamp, a JSON log line, a Sanic "[…]" line) ends it too.
MAX_WARNING_LINES = 4
NEW_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d|\[|\{)")
CHATTER = (
    re.compile(r"\brasa_sdk\.executor\s+- (Re-r|R)egistered function for '"),
    re.compile(r'"GET /(readyz|healthz) HTTP/1\.1\\?" '),  # the bot's access log of the readiness polls
)


@dataclass
class Console:
    """One writer for the terminal and the log file; `say` takes each line of each process."""

    terminal: TextIO
    log: TextIO | None = None
    tty: bool = False
    width: int = 9
    _in_warning: dict[str, int] = field(default_factory=dict)  # name -> lines of a warning still to drop

    def say(self, name: str, text: str) -> None:
        progress = "\r" in text
        if progress:
            text = next((part for part in reversed(text.split("\r")) if part.strip()), "")
        line = f"{name:<{self.width}} | {text}\n"
        if self.log is not None:
            self.log.write(time.strftime("%Y-%m-%d %H:%M:%S ") + line)
            self.log.flush()
        if self.shown(name, text) and (self.tty or not progress):
            self.terminal.write(line)
            self.terminal.flush()

    def shown(self, name: str, text: str) -> bool:
        """Whether this line is for the terminal (a warning's lines are dropped as a block)."""
        if WARNING_HEADER.match(text):
            self._in_warning[name] = MAX_WARNING_LINES
            return False
        left = self._in_warning.pop(name, 0)
        if left and not NEW_RECORD.match(text):
            if not text.startswith("  ") and left > 1:  # more of the message; the source line ends it
                self._in_warning[name] = left - 1
            return False
        return not any(pattern.search(text) for pattern in CHATTER)
