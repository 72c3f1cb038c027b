"""Fixtures every test directory shares."""

from __future__ import annotations

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
