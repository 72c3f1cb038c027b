"""The headless-Chromium fixture; `chromium.py` beside it holds the small CDP driver."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .chromium import CHROMIUM, Browser, launch


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("needs Debian's chromium, which ./dev installs")
    with launch() as running:
        yield running
