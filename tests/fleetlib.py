"""Starting, reading and stopping a real local fleet (`glasscast up`) in tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from testclip import source_clip

START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Fleet:
    info: dict[str, Any]
    state_dir: Path
    log_path: Path

    @property
    def api(self) -> str:
        return str(self.info["control_plane"]["http"])

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['control_plane']['admin_token']}"}

    def node(self, name: str) -> dict[str, Any]:
        return next(n for n in self.info["nodes"] if n["name"] == name)

    def client(self, source: str | None = None) -> httpx.Client:
        """An API client, optionally from a chosen loopback source address."""
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(
            base_url=self.api, headers=self.admin_headers, timeout=15.0, transport=transport
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def recordings(self) -> Path:
        return self.state_dir.parent / "recordings"

    def create_channel(self, name: str, category: str = "test") -> str:
        """A fresh channel; returns its stream key."""
        with self.client() as api:
            answer = api.post(
                "/api/v1/channels", json={"name": name, "title": name, "category": category}
            )
            answer.raise_for_status()
            return str(answer.json()["stream_key"])

    def live(self, channel: str) -> dict[str, Any] | None:
        with self.client() as api:
            answer = api.get(f"/api/v1/streams/{channel}/live")
        return None if answer.status_code == 404 else dict(answer.json())


def start_fleet(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = state_dir.parent / f"{state_dir.name}-up.log"
    log = log_path.open("wb")
    # Every origin also records raw ingest, so tests can count what arrived.
    env = {**os.environ, "GLASSCAST_RTMP_RECORD_DIR": str(state_dir.parent / "recordings")}
    process = subprocess.Popen(
        # Verbose: a failing test shows every process's log in the one file.
        [
            sys.executable,
            "-m",
            "shared.cli",
            "up",
            "--state-dir",
            str(state_dir),
            "--verbose",
            *extra,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, log_path


def wait_ready(process: subprocess.Popen[bytes], state_dir: Path, log_path: Path) -> dict[str, Any]:
    fleet_file = state_dir / "fleet.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"glasscast up exited early:\n{log_path.read_text()[-4000:]}")
        if fleet_file.exists():
            return dict(json.loads(fleet_file.read_text()))
        time.sleep(0.2)
    raise RuntimeError(f"glasscast up not ready in time:\n{log_path.read_text()[-4000:]}")


def stop_fleet(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def leftover_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(cmdline)
    return found


@dataclass
class ControlPlaneProcess:
    """A real control plane in a child process, on free loopback ports."""

    state_dir: Path
    config_path: Path
    http_port: int
    grpc_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def admin_token(self) -> str:
        return (self.state_dir / "admin-token").read_text().strip()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10.0,
        )

    def start(self, timeout: float = 30.0) -> None:
        log = (self.state_dir.parent / "control-plane.log").open("ab")
        argv = [sys.executable, "-m", "shared.cli", "control-plane"]
        self.process = subprocess.Popen(
            [*argv, "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"control plane exited {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("control plane did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def enrollment_token(self, node_name: str | None = None) -> str:
        with self.client() as api:
            answer = api.post("/api/v1/enrollment-tokens", json={"node_name": node_name})
            answer.raise_for_status()
            return str(answer.json()["token"])


def control_plane_process(tmp: Path, **sections: dict[str, Any]) -> ControlPlaneProcess:
    """Write a config for a control plane under `tmp` (not started yet)."""
    from localfleet.topology import free_port
    from shared.config import ControlPlaneConfig, dump_toml

    config = ControlPlaneConfig()
    config.http.port, config.grpc.port = free_port(), free_port()
    config.paths.state_dir = str(tmp / "cp-state")
    for section, values in sections.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    path = tmp / "control-plane.toml"
    path.write_text(dump_toml(config))
    return ControlPlaneProcess(tmp / "cp-state", path, config.http.port, config.grpc.port)


def wait_for(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def ffmpeg_push(
    url: str, *args: str, seconds: float | None = None, loop: bool = False
) -> subprocess.Popen[bytes]:
    """Push the test clip like OBS would (H.264 + AAC over RTMP, real time)."""
    duration = ["-t", str(seconds)] if seconds else []
    looping = ["-stream_loop", "-1"] if loop else []
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", *looping, "-i", str(source_clip()),
         *duration, *args, "-c", "copy", "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def count_frames(path: Path, stream: str = "v:0") -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", stream,
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[0])


def node_pid(fleet: Fleet, name: str) -> int | None:
    """The pid of a running node of `fleet` (found by its config file's path)."""
    marker = str((fleet.state_dir / "nodes" / name / "edge.toml").resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in cmdline and b"edge" in cmdline:
            return int(entry.name)
    return None


def control_plane_pid(fleet: Fleet) -> int | None:
    """The pid of the running control plane of `fleet` (not `glasscast up` itself)."""
    marker = str(fleet.state_dir.resolve()).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"control-plane" in cmdline and any(marker in arg for arg in cmdline):
            return int(entry.name)
    return None


@dataclass(frozen=True)
class ProcessId:
    """A process as seen once, with its start time: a pid reused later is another process."""

    pid: int
    started: int  # clock ticks after boot (field 22 of /proc/PID/stat)
    argv: tuple[str, ...]


def _stat_fields(pid: int | str) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on; None once the process is gone."""
    try:
        # The command name (field 2) may hold spaces and parentheses: split after it.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_id(pid: int) -> ProcessId | None:
    fields = _stat_fields(pid)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if fields is None:
        return None
    return ProcessId(pid, int(fields[19]), tuple(a.decode(errors="replace") for a in argv if a))


def descendants(pid: int) -> list[ProcessId]:
    """The live processes below `pid`: its children, theirs, and so on (zombies excluded).

    Found through parent pids, so only while the ancestors live: a process whose
    parent died belongs to init (or a subreaper) from then on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(entry.name) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[ProcessId] = []
    below = list(children.get(pid, []))
    while below:
        child = below.pop()
        below.extend(children.get(child, []))
        seen = _process_id(child)
        if seen is not None:
            found.append(seen)
    return found


def alive(process: ProcessId) -> bool:
    """Still running: the same pid with the same start time, and not a zombie."""
    fields = _stat_fields(process.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == process.started


def vod_of(fleet: Fleet, channel: str) -> dict[str, Any] | None:
    """The newest VOD of `channel`, or None while there is none."""
    with fleet.client() as api:
        vods = api.get("/api/v1/vods", params={"channel": channel}).json()
    return dict(vods[0]) if vods else None


def check_vod_plays(fleet: Fleet, vod: dict[str, Any], node: str = "edge-west") -> str:
    """Fetch the VOD's lowest rendition from `node` and decode it whole with ffmpeg;
    returns the media playlist's URL."""
    import m3u8

    master_url = fleet.node(node)["http"] + vod["playlist_path"]
    master = m3u8.loads(httpx.get(master_url, timeout=30).raise_for_status().text, uri=master_url)
    media_url = str(min(master.playlists, key=lambda p: p.stream_info.bandwidth).absolute_uri)
    media = httpx.get(media_url, timeout=30).raise_for_status().text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media and "#EXT-X-ENDLIST" in media
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", media_url, "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    return media_url
