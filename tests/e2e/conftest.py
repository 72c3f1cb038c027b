"""One real local fleet (`glasscast up`) shared by the end-to-end tests of a session.

It is started exactly as a user starts it (the console script, a state directory,
fleet.json as the signal of readiness) and stopped with Ctrl-C's signal; the
fixture fails the run if anything is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fleetlib import Fleet, leftover_processes, start_fleet, stop_fleet, wait_ready


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    state_dir = tmp_path_factory.mktemp("fleet") / "state"
    process, log_path = start_fleet(state_dir, "--no-demo", "--reconnect-grace", "6")
    try:
        info = wait_ready(process, state_dir, log_path)
        yield Fleet(info, state_dir, log_path)
    finally:
        code = stop_fleet(process)
    assert code == 0, f"glasscast up exited {code}:\n{log_path.read_text()[-4000:]}"
    assert not (state_dir / "fleet.json").exists(), "fleet.json left behind"
    assert not leftover_processes(str(state_dir)), "children left running"
