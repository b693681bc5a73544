"""Run the Procfile's processes and restart any that crashes, while the others keep serving.

    .venv/bin/python scripts/supervise.py [-f Procfile] [--scale rasa=2]

Why not honcho (used before): when one process dies honcho stops all the others, so one crash of
the action server took the whole assistant down until someone restarted it by hand.  Here:

- a process that fails (non-zero exit, or killed by a signal) is started again after a backoff of
  0.5 s, doubling on each quick failure up to 30 s, back to 0.5 s once it ran for 60 s;
- a process that exits with status 0 is done (the `ready` line, which waits and prints the URL) —
  the same rule as systemd's Restart=on-failure (docs/security.md);
- each process runs in its own process group; after it dies the group is killed too, so a Rasa
  worker left behind by a killed Rasa main process cannot keep the port;
- SIGINT/SIGTERM stop every process (SIGTERM, then SIGKILL after STOP_GRACE_S), like Ctrl-C in honcho;
- `--scale NAME=N` runs N copies of a Procfile line (named NAME1..NAMEN), each its own supervised
  process, with INSTANCE=1..N in its environment (the Procfile derives its port from it): Rasa
  runs as RASA_INSTANCES such copies, so one is replaced while the others answer.

Output lines are prefixed with the process name (`rasa    | …`); the supervisor's own lines start
with `supervise |` and say what happened: exit status, uptime, when the restart comes.  With
`--log FILE` every line also goes to FILE, and the terminal is spared third-party warnings, start-up
chatter and (off a terminal) progress bars: scripts/console.py.  `--once NAME=COMMAND` runs one
command that way and exits with its status (scripts/run.sh's steps before the servers start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from console import Console

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a process that ran this long is healthy again: the next backoff starts small
STOP_GRACE_S = 10.0


@dataclass
class Program:
    name: str
    command: str
    backoff: float = FIRST_BACKOFF_S
    restarts: int = 0
    process: asyncio.subprocess.Process | None = None
    done: bool = False
    started_at: float = field(default=0.0)
    env: dict[str, str] = field(default_factory=dict)


def read_procfile(path: Path, scale: dict[str, int] | None = None) -> list[Program]:
    programs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = (part.strip() for part in line.split(":", 1))
        count = (scale or {}).get(name, 1)
        if count == 1:
            programs.append(Program(name, command, env={"INSTANCE": "1"}))
        else:
            programs += [Program(f"{name}{n}", command, env={"INSTANCE": str(n)}) for n in range(1, count + 1)]
    return programs


def parse_scale(items: list[str]) -> dict[str, int]:
    scale = {}
    for item in items:
        name, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--scale wants NAME=N with N >= 1, got {item!r}")
        scale[name] = int(count)
    return scale


class Supervisor:
    def __init__(self, programs: list[Program], log: TextIO | None = None) -> None:
        self.programs = programs
        width = max(len(name) for name in [*(p.name for p in programs), "supervise"])
        self.console = Console(sys.stdout, log, tty=sys.stdout.isatty(), width=width)
        self.stopping = asyncio.Event()
        self.relays: set[asyncio.Task[None]] = set()

    def say(self, name: str, text: str) -> None:
        self.console.say(name, text)

    async def once(self) -> int:
        """Run the one program to its end, its output relayed as the servers' is; its exit status."""
        (program,) = self.programs
        await self.start(program)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # it runs in its own session: Ctrl-C reaches only us
            loop.add_signal_handler(sig, self.kill_group, program, signal.SIGTERM)
        assert program.process is not None
        status = await program.process.wait()
        await asyncio.gather(*self.relays)  # its last lines
        return status if status >= 0 else 128 - status  # as the shell reports a signal

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        keepers = [asyncio.create_task(self.keep(program)) for program in self.programs]
        await self.stopping.wait()
        self.say("supervise", "stopping every process")
        await asyncio.gather(*(self.stop(program) for program in self.programs))
        for task in keepers:
            task.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
        return 0

    async def keep(self, program: Program) -> None:
        """Start the program; restart it with backoff after each failure, until stopping."""
        while not self.stopping.is_set():
            await self.start(program)
            assert program.process is not None
            status = await program.process.wait()
            self.kill_group(program, signal.SIGKILL)  # its children, if any, go with it
            if self.stopping.is_set():
                return
            uptime = time.monotonic() - program.started_at
            if status == 0:
                program.done = True
                self.say("supervise", f"{program.name} finished (exit 0 after {uptime:.1f} s)")
                return
            how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit {status}"
            if uptime >= STABLE_AFTER_S:
                program.backoff = FIRST_BACKOFF_S
            delay = program.backoff
            program.backoff = min(program.backoff * 2, MAX_BACKOFF_S)
            program.restarts += 1
            self.say(
                "supervise",
                f"{program.name} stopped ({how}) after {uptime:.1f} s; restart #{program.restarts} in {delay:.1f} s",
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def start(self, program: Program) -> None:
        program.process = await asyncio.create_subprocess_exec(
            "/bin/bash",
            "-c",
            f"exec {program.command}",  # the shell expands $PORT-style variables, as honcho did
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **program.env},
        )
        program.started_at = time.monotonic()
        if len(self.programs) > 1:  # a step of run.sh says what it does itself
            self.say("supervise", f"{program.name} started (pid {program.process.pid})")
        assert program.process.stdout is not None
        relay = asyncio.create_task(self.relay(program.name, program.process.stdout))
        self.relays.add(relay)
        relay.add_done_callback(self.relays.discard)

    async def relay(self, name: str, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the stream's limit: pass on what there is
                line = await stream.read(65536)
            if not line:
                return
            self.say(name, line.decode("utf-8", errors="replace").rstrip("\n"))

    def kill_group(self, program: Program, sig: signal.Signals) -> None:
        if program.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(program.process.pid, sig)

    async def stop(self, program: Program) -> None:
        process = program.process
        if process is None or process.returncode is not None:
            return
        self.kill_group(program, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except asyncio.TimeoutError:
            self.say("supervise", f"{program.name} did not stop in {STOP_GRACE_S:.0f} s: killing it")
            self.kill_group(program, signal.SIGKILL)
            await process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=N", help="run N copies of NAME")
    parser.add_argument("--log", type=Path, help="append every line here; the terminal gets the readable ones")
    parser.add_argument("--once", metavar="NAME=COMMAND", help="run one command so, and exit with its status")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(args.log.open("a", encoding="utf-8")) if args.log else None
        if args.once:
            name, _, command = args.once.partition("=")
            return asyncio.run(Supervisor([Program(name, command)], log).once())
        return asyncio.run(Supervisor(read_procfile(args.procfile, parse_scale(args.scale)), log).run())


if __name__ == "__main__":
    sys.exit(main())
