"""A lifeline from a supervisor to its children: a child stops when its supervisor is gone.

The supervisor (`glasscast up`) makes a pipe, keeps the write end to itself and hands
the read end to each child, naming it in GLASSCAST_LIFELINE_FD. Nothing is ever
written: the child's read returns end of file exactly when the last holder of the
write end has exited, however it exited. The kernel closes a dead process's
descriptors, so SIGKILL and the OOM killer break the line too.

Why a pipe and not prctl(PR_SET_PDEATHSIG): the death signal fires when the *thread*
that forked the child exits, not the process. trio starts processes from worker
threads that it retires after idling, so a node arming it for its transcode workers
would kill healthy ones. A preexec_fn that arms it is also unsafe in `up`, whose
log-copying threads run while it forks. A pipe does not care which thread forked.
It also has no window between fork and arming: a child started just as its
supervisor died reads end of file at once. And it is the mechanism already used one
level down, where a transcode worker exits at end of file on its stdin, the pipe
from its node (edge_node/transcode/child.py). So the whole tree uses one rule: a
child dies with its parent's end of a pipe.
"""

from __future__ import annotations

import os
import signal
import threading
import time

ENV = "GLASSCAST_LIFELINE_FD"
# A graceful stop gets this long; after that a hung one is cut short.
STOP_GRACE = 5.0


class Lifeline:
    """The supervisor's side. Hand `fd` to a child (pass_fds) and `env` to its environment."""

    def __init__(self) -> None:
        # os.pipe's descriptors are not inheritable. pass_fds hands the read end to
        # each child, and the write end never leaves this process: a child holding it
        # would keep the line alive after we died.
        self.fd, self._write_end = os.pipe()

    @property
    def env(self) -> dict[str, str]:
        return {ENV: str(self.fd)}


def watch() -> None:
    """When started on a lifeline, stop this process once the supervisor is gone."""
    # Popped: our own children (transcode workers) get other descriptors, so the
    # number would name the wrong one, or none at all, there.
    value = os.environ.pop(ENV, None)
    if value is None:
        return
    fd = int(value)
    os.set_inheritable(fd, False)  # also fails loudly, at start, on a bad descriptor
    threading.Thread(target=_stop_at_end_of_file, args=(fd,), name="lifeline", daemon=True).start()


def _stop_at_end_of_file(fd: int) -> None:
    while os.read(fd, 1):
        pass
    # The same stop as Ctrl-C or `systemctl stop`: a node ends its transcode workers
    # and closes its files. If that stop hangs, exit without it.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE)
    os._exit(1)
