"""Child processes of `glasscast up`: started with a log prefix, always stopped.

Each child's output is copied line by line, by one daemon thread per child, to its
log file and (warnings and errors only, unless verbose) to ours with its name in
front; `stop` asks politely (SIGTERM), then insists (SIGKILL).
Every child also inherits the fleet's `Ties`, so that it dies with `up` even when
`up` is killed too abruptly to stop anything.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shared.lifeline import Lifeline

COLOURS = ("36", "33", "35", "32", "34", "31")
STOP_TIMEOUT = 8.0


def glasscast_argv(*args: str) -> list[str]:
    """Run the CLI with this interpreter, so children use the same environment."""
    return [sys.executable, "-m", "shared.cli", *args]


@dataclass(frozen=True)
class Ties:
    """What every child of one `up` inherits: the lifeline (it stops when `up` is gone,
    see shared.lifeline) and the state directory's lock (up.py), which the kernel
    then releases only once the last process of the fleet has exited."""

    lifeline: Lifeline
    lock_fd: int

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self.lifeline.fd, self.lock_fd)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **(extra or {}), **self.lifeline.env}


# A log record as shared.logs formats it: "2026-12-08 03:43:20,851 INFO    name: ...".
_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+)")
_SHOWN_LEVELS = frozenset(("WARNING", "ERROR", "CRITICAL"))


@dataclass(frozen=True)
class Console:
    """Where the children's output goes: every line to `<log_dir>/<name>.log`; to our
    terminal, the records a newcomer must see (warnings and errors, with what follows
    them, such as a traceback) and any line that is not a log record (a crash before
    logging started), or everything when `verbose`."""

    log_dir: Path
    verbose: bool = False

    def open_log(self, name: str) -> IO[str]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return (self.log_dir / f"{name}.log").open("a", encoding="utf-8")

    def shows(self, line: str, shown_before: bool) -> bool:
        if self.verbose:
            return True
        record = _RECORD.match(line)
        if record is not None:
            return record.group(1) in _SHOWN_LEVELS
        # An indented line continues the record before it; anything else stands alone.
        return shown_before or not line[:1].isspace()


class Child:
    _count = 0

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ties: Ties,
        console: Console,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._console = console
        self._argv = list(argv)
        self._ties = ties
        self._env = env
        colour = COLOURS[Child._count % len(COLOURS)]
        Child._count += 1
        use_colour = sys.stdout.isatty()
        self._prefix = f"\x1b[{colour}m{name:>12}\x1b[0m | " if use_colour else f"{name:>12} | "
        self.restarts: list[float] = []
        self._spawn()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            self._argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self._ties.env(self._env),
            pass_fds=self._ties.pass_fds,
            # Own process group: Ctrl-C in the terminal reaches only `up`, which then
            # stops the children in order instead of all at once.
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self._thread = threading.Thread(target=self._copy, args=(self.process.stdout,), daemon=True)
        self._thread.start()

    def _copy(self, stream: IO[bytes]) -> None:
        shown = False
        with self._console.open_log(self.name) as log:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                log.write(line + "\n")
                log.flush()
                shown = self._console.shows(line, shown)
                if shown:
                    sys.stdout.write(f"{self._prefix}{line}\n")
                    sys.stdout.flush()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def restart(self) -> None:
        """Start the same command again (after it exited)."""
        self._thread.join(timeout=2)
        self.restarts.append(time.monotonic())
        self._spawn()

    def stop(self) -> int | None:
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._thread.join(timeout=2)
        return self.process.returncode


def run_quiet(
    argv: Sequence[str], ties: Ties, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=ties.env(),
        pass_fds=ties.pass_fds,
    )
