"""`glasscast up`: the contract's local fleet on loopback, through the real paths.

The control plane and each node are child processes started with the same CLI an
operator uses; nodes enroll with real one-time tokens over the real enrollment
endpoint, and `fleet.json` appears only once every node reports healthy.

Children die with `up`, however it dies (see processes.Ties), and a state directory
serves one fleet at a time: a second `up` waits for an earlier one's processes to be
gone, then clears what it left.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

import httpx

from shared.lifeline import STOP_GRACE, Lifeline

from .processes import Child, Console, Ties, glasscast_argv, run_quiet
from .topology import PlannedFleet, plan

START_TIMEOUT = 60.0
# A dead child is restarted after this long (long enough that a killed shield's edges
# notice and fail over, as they would in production while systemd restarts it).
RESTART_DELAY = 3.0
CRASH_LOOP_RESTARTS = 5
CRASH_LOOP_WINDOW = 60.0
DEMO_CHANNEL = "demo"
LOCK_FILE = "up.lock"
# Long enough for the children of a killed `up` to finish stopping (shared.lifeline).
LOCK_WAIT = 3 * STOP_GRACE


class FleetFailed(RuntimeError):
    """A child died or never became ready; the message says which and why."""


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _wait(what: str, check: object, children: list[Child], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if not child.running:
                raise FleetFailed(
                    f"{child.name} exited ({child.process.returncode}) during start-up"
                )
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise FleetFailed(f"timed out waiting for {what}")


def _admin_token(fleet: PlannedFleet, children: list[Child]) -> str:
    path = fleet.control_plane.state_dir / "admin-token"
    _wait("the control plane's admin token", path.exists, children)
    return path.read_text().strip()


def _enroll(fleet: PlannedFleet, api: httpx.Client, ties: Ties) -> None:
    for node in fleet.nodes:
        answer = api.post("/api/v1/enrollment-tokens", json={"node_name": node.spec.name})
        answer.raise_for_status()
        result = run_quiet(
            glasscast_argv(
                "edge", "--config", str(node.config_path), "enroll",
                "--control-plane", fleet.http_url, "--token", answer.json()["token"],
            ),
            ties,
        )  # fmt: skip
        if result.returncode != 0:
            raise FleetFailed(f"enrolling {node.spec.name} failed: {result.stderr.strip()}")


def _all_healthy(api: httpx.Client, names: set[str]) -> bool:
    nodes = api.get("/api/v1/nodes").json()
    healthy = {n["name"] for n in nodes if n.get("status") == "healthy"}
    return names <= healthy


def _demo_channel(api: httpx.Client) -> str:
    created = api.post(
        "/api/v1/channels",
        json={"name": DEMO_CHANNEL, "title": "Glasscast demo", "category": "demo"},
    )
    if created.status_code == 409:
        created = api.post(f"/api/v1/channels/{DEMO_CHANNEL}/stream-key")
    created.raise_for_status()
    return str(created.json()["stream_key"])


def _fleet_json(fleet: PlannedFleet, admin_token: str, stream_key: str) -> dict[str, object]:
    return {
        "control_plane": {
            "http": fleet.http_url,
            "grpc": fleet.grpc_address,
            "admin_token": admin_token,
        },
        "nodes": [
            {
                "name": n.spec.name,
                "roles": list(n.spec.roles),
                "region": n.spec.region,
                "prefixes": list(n.spec.prefixes),
                "rtmp": n.rtmp_url,
                "http": n.http_url,
                # Only ingest nodes listen for SRT.
                **({"srt": n.srt_url} if n.srt_url else {}),
            }
            for n in fleet.nodes
        ],
        "demo": {"channel": DEMO_CHANNEL, "stream_key": stream_key},
    }


def _banner(fleet: PlannedFleet, stream_key: str, demo: bool, started_in: float, logs: Path) -> str:
    ingest = next(n for n in fleet.nodes if "ingest" in n.spec.roles)
    lines = [
        "",
        f"Glasscast fleet is up ({len(fleet.nodes)} nodes healthy in {started_in:.1f} s).",
        f"  Watch:        {fleet.http_url}/watch/{DEMO_CHANNEL}",
        f"  Play (HLS):   {fleet.http_url}/play/{DEMO_CHANNEL}.m3u8",
        f"  RTMP ingest:  {ingest.rtmp_url}/{stream_key}",
        f"                (OBS: server {ingest.rtmp_url}, stream key {stream_key})",
        f"  SRT ingest:   {ingest.srt_url}?streamid={stream_key}",
        f"  Operator TUI: glasscast tui   (reads {fleet.state_dir / 'fleet.json'})",
        "  Demo stream:  " + ("pushing a test pattern now" if demo else "off (--no-demo)"),
        f"  Logs:         {logs}/   (warnings and errors also show here; --verbose: all)",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _supervise(children: list[Child]) -> NoReturn:
    """Restart children that die, like a service manager; give up on a crash loop."""
    down_since: dict[str, float] = {}
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        for child in children:
            if child.running:
                continue
            if child.name not in down_since:
                down_since[child.name] = now
                print(
                    f"glasscast up: {child.name} exited ({child.process.returncode}); "
                    f"restarting in {RESTART_DELAY:g} s",
                    flush=True,
                )
            elif now - down_since[child.name] >= RESTART_DELAY:
                recent = [t for t in child.restarts if now - t < CRASH_LOOP_WINDOW]
                if len(recent) >= CRASH_LOOP_RESTARTS:
                    raise FleetFailed(f"{child.name} keeps exiting; giving up")
                del down_since[child.name]
                child.restart()


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_state_dir(state_dir: Path) -> int:
    """Lock the state directory, first waiting for an earlier fleet there to be gone.

    An flock belongs to the open file, which every child inherits (`Ties`). So the
    lock stays held while any process of the fleet lives, and the kernel releases it
    when the last one exits, however it exits. Unlike a pid file it never goes stale.
    A second `up` waits here until the children of a killed one have stopped, before
    it wipes their directories, and it refuses to run beside a live one.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    if _try_lock(fd):
        return fd
    print(f"glasscast up: waiting for the fleet already using {state_dir} to stop", flush=True)
    deadline = time.monotonic() + LOCK_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if _try_lock(fd):
            return fd
    os.close(fd)
    raise FleetFailed(f"another glasscast up is running with --state-dir {state_dir}")


def _clear_earlier_run(state_dir: Path) -> None:
    # A killed run leaves its fleet.json behind, naming ports that nobody serves now.
    # It goes first, so that readers (the TUI, tests) never take it for this run's.
    (state_dir / "fleet.json").unlink(missing_ok=True)
    # Each run starts from a clean slate: fresh ports, fresh identities.
    for sub in ("control-plane", "nodes", "logs"):
        shutil.rmtree(state_dir / sub, ignore_errors=True)


def _start_and_supervise(
    fleet: PlannedFleet, ties: Ties, console: Console, demo: bool, children: list[Child]
) -> NoReturn:
    """Start the fleet into `children` (the caller stops them), then supervise it."""
    started = time.monotonic()
    fleet_file = fleet.state_dir / "fleet.json"
    children.append(
        Child(
            "control-plane",
            glasscast_argv("control-plane", "--config", str(fleet.control_plane_path)),
            ties,
            console,
        )
    )
    api = httpx.Client(base_url=fleet.http_url, timeout=10.0)
    _wait("the control plane", lambda: api.get("/healthz").status_code == 200, children)
    api.headers["Authorization"] = f"Bearer {_admin_token(fleet, children)}"
    _enroll(fleet, api, ties)
    for node in fleet.nodes:
        argv = glasscast_argv("edge", "--config", str(node.config_path))
        children.append(Child(node.spec.name, argv, ties, console))
    names = {n.spec.name for n in fleet.nodes}
    _wait("every node to report healthy", lambda: _all_healthy(api, names), children)
    stream_key = _demo_channel(api)
    admin_token = api.headers["Authorization"].removeprefix("Bearer ")
    fleet_file.write_text(json.dumps(_fleet_json(fleet, admin_token, stream_key), indent=2) + "\n")
    fleet_file.chmod(0o600)
    if demo:
        ingest = next(n for n in fleet.nodes if "ingest" in n.spec.roles)
        url = f"{ingest.rtmp_url}/{stream_key}"
        argv = [sys.executable, "-m", "localfleet.demo", url, "--retry"]
        children.append(Child("demo", argv, ties, console))
    banner = _banner(fleet, stream_key, demo, time.monotonic() - started, console.log_dir)
    print(banner, flush=True)
    _supervise(children)


def run_up(state_dir: Path, demo: bool = True, grace: float = 15.0, verbose: bool = False) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        lock_fd = _lock_state_dir(state_dir)
    except FleetFailed as exc:
        print(f"glasscast up: {exc}", file=sys.stderr, flush=True)
        return 1
    _clear_earlier_run(state_dir)
    fleet = plan(state_dir, grace)
    children: list[Child] = []
    try:
        console = Console(state_dir / "logs", verbose)
        _start_and_supervise(fleet, Ties(Lifeline(), lock_fd), console, demo, children)
    except KeyboardInterrupt:
        print("\nstopping the fleet ...", flush=True)
        return 0
    except (FleetFailed, httpx.HTTPError) as exc:
        print(f"glasscast up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C (or SIGTERM) must not abandon children half-way through.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (state_dir / "fleet.json").unlink(missing_ok=True)
        for child in reversed(children):
            child.stop()
