"""scripts/supervise.py --scale NAME=N: N copies of one Procfile line, each with its own INSTANCE
and its own restarts (how Rasa runs as RASA_INSTANCES processes).  Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _pids(folder: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text()) for path in folder.glob("*.pid") if path.read_text().strip()}


def _wait_for_pids(folder: Path, names: set[str], timeout: float = 30) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _pids(folder)
        if names <= set(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no pid files {names} after {timeout} s: {_pids(folder)}")


def test_each_copy_is_its_own_supervised_process(tmp_path: Path) -> None:
    # Each copy writes its pid to <port>.pid, the port derived from INSTANCE as the Procfile's Rasa line does.
    pid_file = f"os.path.join({str(tmp_path)!r}, os.environ['PORTISH'] + '.pid')"
    write = f"import os; open({pid_file}, 'w').write(str(os.getpid()))"
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f'work: env PORTISH=$((5000 + INSTANCE - 1)) {sys.executable} -c "{write}; import time; time.sleep(600)"\n',
        encoding="utf-8",
    )
    supervisor = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "supervise.py"), "-f", str(procfile), "--scale", "work=2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        first = _wait_for_pids(tmp_path, {"5000", "5001"})
        assert sorted(first) == ["5000", "5001"]
        (tmp_path / "5000.pid").write_text("")
        os.kill(first["5000"], signal.SIGKILL)
        again = _wait_for_pids(tmp_path, {"5000", "5001"})
        assert again["5000"] != first["5000"]  # the killed copy came back ...
        assert again["5001"] == first["5001"]  # ... and the other one was left alone
        os.killpg(supervisor.pid, signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=30)
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()
    assert "work1 stopped (killed by SIGKILL)" in output
    assert "work2 stopped" not in output.split("stopping every process")[0]
