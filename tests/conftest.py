"""Fixtures every test directory shares."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest


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
