from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.realfleet import ControlPlaneProcess, running


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlaneProcess]:
    """One real control plane per test module; tests use names of their own."""
    root: Path = tmp_path_factory.mktemp("control-plane")
    with running(root) as cp:
        yield cp
