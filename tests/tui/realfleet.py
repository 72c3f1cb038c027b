"""A real control plane for the TUI's tests: the `glasscast control-plane` process on
free loopback ports, and stand-in nodes that enroll through the real HTTP endpoint
(a CSR from shared.pki) and report over the real mutual-TLS gRPC session."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx

from shared import pki
from shared.fleet import fleet_pb2, fleet_pb2_grpc
from shared.ports import free_port

START_TIMEOUT = 30.0
REPORT_INTERVAL = 0.5


class ControlPlaneProcess:
    """`glasscast control-plane --config FILE`, restartable on the same state and ports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / "state"
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.config_path = root / "control-plane.toml"
        self.config_path.write_text(
            f'[paths]\nstate_dir = "{self.state_dir}"\n\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.http_port}\n\n'
            f'[grpc]\nhost = "127.0.0.1"\nport = {self.grpc_port}\n\n'
            # Reports every REPORT_INTERVAL; silence for 3 s makes a node unhealthy.
            "[fleet]\nreport_interval = 1.0\nmissed_reports_unhealthy = 3\n"
        )
        self.log_path = root / "control-plane.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def admin_token(self) -> str:
        return (self.state_dir / "admin-token").read_text().strip()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "shared.cli",
                    "control-plane",
                    "--config",
                    str(self.config_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"control plane exited:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError, OSError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"control plane not ready:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """Lose the control plane the hard way, as a crash or a cut link would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10.0,
        )


@contextlib.contextmanager
def running(root: Path) -> Iterator[ControlPlaneProcess]:
    cp = ControlPlaneProcess(root)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


@dataclass
class NodeAgent:
    """One enrolled stand-in node; `start_reporting` keeps its session alive."""

    name: str
    key_pem: bytes
    certificate: bytes
    ca_certificate: bytes
    grpc_address: str
    region: str = "east"
    roles: tuple[str, ...] = ("ingest", "transcode", "edge")
    load: dict[str, Any] = field(default_factory=dict)
    streams: list[fleet_pb2.StreamReport] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _channel: grpc.Channel | None = None

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=self.ca_certificate,
                private_key=self.key_pem,
                certificate_chain=self.certificate,
            )
            self._channel = grpc.secure_channel(
                self.grpc_address,
                credentials,
                options=[("grpc.ssl_target_name_override", pki.CONTROL_PLANE_TLS_NAME)],
            )
        return self._channel

    def report(self, seq: int) -> fleet_pb2.NodeReport:
        load = {
            "cpu": 0.25,
            "egress_bps": 2_000_000_000,
            "cache_hit_ratio": 0.9,
            "streams_originated": sum(1 for s in self.streams if s.origin),
            "viewer_sessions": sum(s.viewer_sessions for s in self.streams),
            **self.load,
        }
        return fleet_pb2.NodeReport(
            seq=seq,
            sent_at=time.time(),
            roles=list(self.roles),
            region=self.region,
            prefixes=["127.1.0.0/16"],
            http_url="http://127.1.0.1:8081",
            rtmp_url="rtmp://127.1.0.1:1935/live",
            capacity=fleet_pb2.Capacity(egress_bps=10_000_000_000, max_streams=8),
            load=fleet_pb2.Load(**load),
            streams=list(self.streams),
            turnup=[
                fleet_pb2.TurnupCheck(name="ports", ok=True, detail="bound"),
                fleet_pb2.TurnupCheck(name="encoder", ok=True, detail="libx264"),
            ],
            encoders=[fleet_pb2.Encoder(name="libx264", hardware=False, usable=True)],
        )

    def start_reporting(self) -> None:
        outbox: queue.Queue[fleet_pb2.NodeReport | None] = queue.Queue()

        def requests() -> Iterator[fleet_pb2.NodeReport]:
            while (item := outbox.get()) is not None:
                yield item

        call = fleet_pb2_grpc.FleetStub(self.channel()).Session(requests())

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):
                for _ in call:
                    pass

        def send() -> None:
            seq = 0
            while not self._stop.is_set():
                seq += 1
                outbox.put(self.report(seq))
                self._stop.wait(REPORT_INTERVAL)
            outbox.put(None)
            call.cancel()

        for target in (read, send):
            thread = threading.Thread(
                target=target, daemon=True, name=f"{self.name}-{target.__name__}"
            )
            thread.start()
            self._threads.append(thread)

    def publish(self, stream_key: str) -> str:
        """Ask to publish as an ingest node would when a broadcaster sends `publish`."""
        decision = fleet_pb2_grpc.FleetStub(self.channel()).AuthorizePublish(
            fleet_pb2.PublishRequest(
                app="live",
                stream_key=stream_key,
                client_address="127.0.0.1",
                connection_id=f"{self.name}-1",
                protocol="rtmp",
            ),
            timeout=10,
        )
        if decision.outcome != fleet_pb2.PublishDecision.ALLOWED:
            raise RuntimeError(f"publish refused: {decision.reason}")
        self.streams = [
            fleet_pb2.StreamReport(
                stream_id=decision.stream_id,
                channel=decision.channel,
                origin=True,
                viewer_sessions=3,
                renditions=["source", "720p30"],
                state="live",
                ingest_bitrate=6_000_000,
                ingest_fps=30,
                transcode_lag=0.4,
            )
        ]
        return str(decision.stream_id)

    def set_viewers(self, count: int) -> None:
        """Report `count` sessions on every stream from the next report on."""
        updated = []
        for report in self.streams:
            copy = fleet_pb2.StreamReport()
            copy.CopyFrom(report)
            copy.viewer_sessions = count
            updated.append(copy)
        # One assignment: the reporting thread sees the old list or the new one.
        self.streams = updated

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        if self._channel is not None:
            self._channel.close()


def enroll(
    cp: ControlPlaneProcess, name: str, *, manual_approval: bool = False, region: str = "east"
) -> NodeAgent:
    with cp.http() as http:
        answer = http.post(
            "/api/v1/enrollment-tokens",
            json={"node_name": name, "manual_approval": manual_approval},
        )
        answer.raise_for_status()
        key = pki.generate_private_key()
        enrolled = http.post(
            "/api/v1/fleet/enroll",
            json={
                "token": answer.json()["token"],
                "name": name,
                "csr": pki.make_csr(key, name).decode(),
                "roles": ["ingest", "transcode", "edge"],
                "region": region,
                "prefixes": ["127.1.0.0/16"],
            },
        )
        enrolled.raise_for_status()
        body = enrolled.json()
    return NodeAgent(
        name=name,
        key_pem=pki.private_key_pem(key),
        certificate=body["certificate"].encode(),
        ca_certificate=body["ca_certificate"].encode(),
        grpc_address=cp.grpc_address,
        region=region,
    )
