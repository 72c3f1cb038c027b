"""Fixtures every test directory shares."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fleetlib import Fleet, leftover_processes, start_fleet, stop_fleet, wait_ready


@pytest.fixture(autouse=True)
def close_browser_pages(request: pytest.FixtureRequest) -> Iterator[None]:
    """The browser tabs a test opened are closed when it ends, whatever the scope of
    its `browser` fixture: a tab left behind keeps its player running (retrying a
    server long gone) and loads the machine under every later test."""
    yield
    if "browser" in request.fixturenames:
        request.getfixturevalue("browser").close_pages()


# What `./dev` installs is required, not optional: a test missing it fails and names
# the fix (a skip would let a broken set-up pass as green). Modules opt in with
# `pytestmark = pytest.mark.usefixtures(...)`.


def _require_program(name: str) -> None:
    if shutil.which(name) is None:
        pytest.fail(f"needs {name}, which ./dev installs (run ./dev test as root once)")


@pytest.fixture(scope="session")
def needs_ffmpeg() -> None:
    _require_program("ffmpeg")


@pytest.fixture(scope="session")
def needs_redis() -> None:
    _require_program("redis-server")


@pytest.fixture(scope="session")
def needs_hls_js() -> None:
    from control_plane.web.routes import STATIC

    if not (STATIC / "vendor" / "hls.min.js").exists():
        pytest.fail("hls.js is not vendored: ./dev sets it up (npm ci in control_plane/web)")


# One real local fleet for the session, started exactly as a user starts it (the
# console script, a state directory, fleet.json as the signal of readiness) and
# stopped with Ctrl-C's signal; it fails the run if anything is left behind.
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
