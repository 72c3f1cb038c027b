"""No process of a fleet outlives `glasscast up`, however it ends, and it starts again cleanly.

The test runs its own fleets with the demo stream on, so that every kind of product
process is there: the control plane, the three nodes, the demo pusher and the
transcode worker of the demo stream. They are found as descendants of `up` while it
lives, because after a SIGKILL they belong to init. (The session fleet's teardown
covers Ctrl-C, for the processes that name its state directory.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from fleetlib import (
    Fleet,
    ProcessId,
    alive,
    control_plane_pid,
    descendants,
    node_pid,
    start_fleet,
    stop_fleet,
    wait_for,
    wait_ready,
)

NODES = ("ingest-east", "shield-east", "edge-west")
KINDS = {"control-plane", *NODES, "demo", "transcode"}
# Orphans stop within the lifeline's grace (5 s); this leaves room for a loaded machine.
GONE_WITHIN = 10.0
WHOLE_FLEET_WITHIN = 60.0


def _kind(process: ProcessId) -> str | None:
    argv = process.argv
    if "edge_node.transcode.child" in argv:
        return "transcode"
    if "localfleet.demo" in argv:
        return "demo"
    if "control-plane" in argv:
        return "control-plane"
    if "edge" in argv and "--config" in argv:
        return Path(argv[argv.index("--config") + 1]).parent.name
    return None


def _whole_fleet(up: subprocess.Popen[bytes]) -> list[ProcessId]:
    """`up`'s descendants, once every kind of product process is among them."""

    def complete() -> list[ProcessId] | None:
        assert up.poll() is None, f"glasscast up exited ({up.returncode})"
        found = descendants(up.pid)
        return found if {_kind(p) for p in found} >= KINDS else None

    found: list[ProcessId] = wait_for(complete, WHOLE_FLEET_WITHIN, "every product process")
    return found


def _survivors(processes: Iterable[ProcessId]) -> list[ProcessId]:
    return [p for p in processes if alive(p)]


def _assert_gone(processes: list[ProcessId], after: str) -> None:
    try:
        wait_for(lambda: not _survivors(processes), GONE_WITHIN, f"the fleet to go {after}")
    except AssertionError:
        running = [f"{_kind(p)} (pid {p.pid})" for p in _survivors(processes)]
        raise AssertionError(f"still running {GONE_WITHIN:g} s {after}: {running}") from None


def _kill_survivors(processes: list[ProcessId]) -> None:
    """Clean-up when a test failed: what it left must not load the rest of the run."""
    for process in _survivors(processes):
        os.kill(process.pid, signal.SIGKILL)


def _fresh_fleet_json(
    up: subprocess.Popen[bytes], state_dir: Path, log_path: Path, stale: str
) -> dict[str, Any]:
    """This run's fleet.json: the killed run's is still there until `up` clears it."""
    fleet_file = state_dir / "fleet.json"

    def fresh() -> str | None:
        assert up.poll() is None, f"glasscast up exited:\n{log_path.read_text()[-4000:]}"
        text = fleet_file.read_text() if fleet_file.exists() else None
        return text if text and text != stale else None

    return dict(json.loads(wait_for(fresh, 90, "the restarted fleet's fleet.json")))


def _assert_serves(fleet: Fleet, up: subprocess.Popen[bytes]) -> None:
    """The fleet in fleet.json is this `up`'s, and every node of it is healthy."""
    pids = {p.pid for p in descendants(up.pid)}
    assert control_plane_pid(fleet) in pids
    assert all(node_pid(fleet, name) in pids for name in NODES)
    with fleet.client() as api:
        nodes = api.get("/api/v1/nodes").json()
    assert {n["name"]: n["status"] for n in nodes} == dict.fromkeys(NODES, "healthy")
    for node in fleet.info["nodes"]:
        assert httpx.get(f"{node['http']}/healthz", timeout=5).status_code == 200


def _sigkill_up(state_dir: Path) -> None:
    """Start a fleet, SIGKILL its `up` (only `up`, as the OOM killer would)."""
    up, log_path = start_fleet(state_dir)
    processes: list[ProcessId] = []
    try:
        wait_ready(up, state_dir, log_path)
        processes = _whole_fleet(up)
        os.kill(up.pid, signal.SIGKILL)
        up.wait()
        _assert_gone(processes, "after glasscast up was SIGKILLed")
    finally:
        stop_fleet(up)
        _kill_survivors(processes)


def _sigkill_a_node_with_a_stream(fleet: Fleet) -> None:
    """A node's transcode workers die with it: they stop at the end of their stdin."""
    pid = node_pid(fleet, "ingest-east")
    assert pid is not None
    workers = [p for p in descendants(pid) if _kind(p) == "transcode"]
    assert workers, "the demo stream has no transcode worker on ingest-east"
    os.kill(pid, signal.SIGKILL)
    _assert_gone(workers, "after their node was SIGKILLed")


def test_a_sigkilled_up_takes_its_fleet_along_and_a_restart_comes_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    _sigkill_up(state_dir)
    stale = (state_dir / "fleet.json").read_text()  # a SIGKILLed `up` cannot remove it
    up, log_path = start_fleet(state_dir)
    processes: list[ProcessId] = []
    try:
        fleet = Fleet(_fresh_fleet_json(up, state_dir, log_path, stale), state_dir, log_path)
        _assert_serves(fleet, up)
        processes = _whole_fleet(up)
        _sigkill_a_node_with_a_stream(fleet)
        processes += _whole_fleet(up)  # up restarts the node; the demo stream comes back
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0, log_path.read_text()[-4000:]
        # `up` stops its children before it exits: nothing may outlive it, not for a moment.
        left = _survivors(processes)
        assert not left, f"outlived glasscast up: {[f'{_kind(p)} (pid {p.pid})' for p in left]}"
    finally:
        stop_fleet(up)
        _kill_survivors(processes)
