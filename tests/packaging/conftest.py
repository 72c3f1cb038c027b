"""Packaging tests: the `packaging` marker for the tests that build and install .debs."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "packaging: builds and installs the .debs (root on Debian only)"
    )
