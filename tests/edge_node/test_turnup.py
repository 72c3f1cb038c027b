"""Turn-up checks, and what of them a node's report carries: a full cache disk
degrades the node (`cache_space`) instead of failing its writable-directory check."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_node import turnup
from edge_node.deliver.refusals import DEGRADED_FOR, SpaceRefusals
from edge_node.fleet.report import NodeSnapshot, build_report
from shared.config import EdgeConfig
from shared.fleet.checks import CACHE_SPACE, DEGRADING

FULL = OSError(errno.ENOSPC, "No space left on device")


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def failing_fsync(error: OSError) -> Callable[[int], None]:
    """The probe's last step failing as a full (or read-only) disk fails it."""

    def fsync(fd: int) -> None:
        raise error

    return fsync


def test_a_full_cache_dir_is_still_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert turnup.writable_dir("cache_dir", tmp_path).ok
    monkeypatch.setattr(turnup.os, "fsync", failing_fsync(FULL))
    full = turnup.writable_dir("cache_dir", tmp_path)
    assert full.ok and "full" in full.detail
    monkeypatch.setattr(turnup.os, "fsync", failing_fsync(OSError(errno.EROFS, "Read-only")))
    assert not turnup.writable_dir("cache_dir", tmp_path).ok


def test_cache_space_fails_for_a_minute_after_a_refusal() -> None:
    clock = Clock()
    refusals = SpaceRefusals(clock)
    assert turnup.cache_space(refusals).ok
    refusals.refused("live/s/r/1.m4s", FULL)
    clock.now += DEGRADED_FOR - 1
    check = turnup.cache_space(refusals)
    assert (check.name, check.ok) == (CACHE_SPACE, False)
    assert "1 objects served uncached" in check.detail
    clock.now += 1
    assert turnup.cache_space(refusals).ok


def test_the_report_of_a_node_with_a_full_cache_disk_degrades_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusals = SpaceRefusals(Clock())
    refusals.refused("live/s/r/1.m4s", FULL)
    monkeypatch.setattr(turnup.os, "fsync", failing_fsync(FULL))
    checks = (
        turnup.port_bound("http_port", "127.0.0.1:8081"),
        turnup.writable_dir("cache_dir", tmp_path),
        turnup.cache_space(refusals),
    )
    report = build_report(EdgeConfig(), "http://e:1", "", NodeSnapshot(checks=checks))
    failed = {c.name for c in report.turnup if not c.ok}
    # Only degrading checks fail: the control plane shows it `degraded`, and routes to it.
    assert failed == {CACHE_SPACE} and failed <= DEGRADING
