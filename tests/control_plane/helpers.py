"""Shared test helpers: configs on a temporary state dir, a running control plane
in a background thread, node enrollment through the real endpoint."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx

from control_plane.app import serve
from control_plane.services import Services, build_services
from shared import pki
from shared.config import ControlPlaneConfig, load
from shared.fleet import fleet_pb2, fleet_pb2_grpc
from shared.ports import free_port


def make_config(state_dir: Path, **sections: dict[str, Any]) -> ControlPlaneConfig:
    env = {
        "GLASSCAST_PATHS_STATE_DIR": str(state_dir),
        "GLASSCAST_HTTP_PORT": str(free_port()),
        "GLASSCAST_GRPC_PORT": str(free_port()),
    }
    for section, values in sections.items():
        for key, value in values.items():
            literal = repr(value).lower() if isinstance(value, bool) else repr(value)
            env[f"GLASSCAST_{section.upper()}_{key.upper()}"] = literal.replace("'", '"')
    return load(ControlPlaneConfig, None, env)


@dataclass
class Running:
    services: Services
    admin_token: str
    http: httpx.Client
    grpc_address: str
    config: ControlPlaneConfig

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


@contextmanager
def running_control_plane(config: ControlPlaneConfig) -> Iterator[Running]:
    """The real `serve` (uvicorn + grpc.aio + upkeep) in a thread with its own loop."""
    services, admin_token = build_services(config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(serve(services, stop, lambda h, g: started.set()))
        except BaseException as exc:
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="control-plane", daemon=True)
    thread.start()
    try:
        assert started.wait(20), "control plane did not start"
        if failure:
            raise failure[0]
        with httpx.Client(base_url=config.public_url, timeout=10) as http:
            yield Running(services, admin_token, http, config.grpc_address, config)
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        services.close()


@dataclass
class EnrolledNode:
    name: str
    key_pem: bytes
    certificate: bytes
    ca_certificate: bytes
    body: dict[str, Any]

    def channel(self, address: str) -> grpc.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.ca_certificate,
            private_key=self.key_pem,
            certificate_chain=self.certificate,
        )
        return grpc.secure_channel(
            address,
            credentials,
            options=[("grpc.ssl_target_name_override", pki.CONTROL_PLANE_TLS_NAME)],
        )


def enrollment_token(http: httpx.Client, admin: dict[str, str], **body: Any) -> str:
    response = http.post("/api/v1/enrollment-tokens", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def enroll_body(token: str, name: str, key: Any = None, **overrides: Any) -> dict[str, Any]:
    key = key or pki.generate_private_key()
    body = {
        "token": token,
        "name": name,
        "csr": pki.make_csr(key, name).decode(),
        "roles": ["ingest", "transcode", "edge"],
        "region": "east",
        "prefixes": ["127.1.0.0/16"],
    }
    body.update(overrides)
    return body


def enroll(
    http: httpx.Client,
    admin: dict[str, str],
    name: str,
    *,
    node_name: str | None = None,
    manual_approval: bool | None = None,
    **overrides: Any,
) -> EnrolledNode:
    """Enroll through the real endpoint; `overrides` change the enrollment body."""
    key = pki.generate_private_key()
    token = enrollment_token(http, admin, node_name=node_name, manual_approval=manual_approval)
    response = http.post("/api/v1/fleet/enroll", json=enroll_body(token, name, key, **overrides))
    assert response.status_code == 201, response.text
    body = response.json()
    return EnrolledNode(
        name=name,
        key_pem=pki.private_key_pem(key),
        certificate=body["certificate"].encode(),
        ca_certificate=body["ca_certificate"].encode(),
        body=body,
    )


def report(
    seq: int,
    *,
    roles: tuple[str, ...] = ("ingest", "transcode", "edge"),
    turnup_ok: bool = True,
    streams: list[fleet_pb2.StreamReport] | None = None,
    http_url: str = "http://127.1.0.1:8081",
    rtmp_url: str = "rtmp://127.1.0.1:1935/live",
    prefixes: tuple[str, ...] = ("127.1.0.0/16",),
    region: str = "east",
) -> fleet_pb2.NodeReport:
    return fleet_pb2.NodeReport(
        seq=seq,
        roles=list(roles),
        region=region,
        prefixes=list(prefixes),
        http_url=http_url,
        rtmp_url=rtmp_url,
        capacity=fleet_pb2.Capacity(egress_bps=1_000_000_000, max_streams=8),
        load=fleet_pb2.Load(cpu=0.1, egress_bps=1_000_000),
        streams=streams or [],
        turnup=[
            fleet_pb2.TurnupCheck(name="ports", ok=True),
            fleet_pb2.TurnupCheck(name="encoder", ok=turnup_ok, detail="" if turnup_ok else "x"),
        ],
    )


def stub(channel: grpc.Channel) -> fleet_pb2_grpc.FleetStub:
    return fleet_pb2_grpc.FleetStub(channel)
