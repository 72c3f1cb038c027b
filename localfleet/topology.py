"""The contract's default local fleet, and the config files each of its processes reads.

    ingest-east  ingest, transcode, edge  region east  prefixes 127.1.0.0/16
    shield-east  shield                   region east
    edge-west    ingest, transcode, edge  region west  prefixes 127.2.0.0/16

Every port is picked free on loopback at start; nothing here assumes the defaults.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from shared.config import ControlPlaneConfig, EdgeConfig, Role, dump_toml
from shared.ports import free_port


@dataclass(frozen=True)
class NodeSpec:
    name: str
    roles: tuple[Role, ...]
    region: str
    prefixes: tuple[str, ...]


DEFAULT_NODES = (
    NodeSpec("ingest-east", ("ingest", "transcode", "edge"), "east", ("127.1.0.0/16",)),
    NodeSpec("shield-east", ("shield",), "east", ()),
    NodeSpec("edge-west", ("ingest", "transcode", "edge"), "west", ("127.2.0.0/16",)),
)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class PlannedNode:
    spec: NodeSpec
    config_path: Path
    config: EdgeConfig

    @property
    def rtmp_url(self) -> str:
        return f"rtmp://{HOST}:{self.config.rtmp.port}/live"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.config.http.port}"

    @property
    def srt_url(self) -> str:
        """Where broadcasters push over SRT; empty on nodes without the ingest role."""
        if "ingest" not in self.spec.roles:
            return ""
        return f"srt://{HOST}:{self.config.srt.port}"


@dataclass(frozen=True)
class PlannedFleet:
    state_dir: Path
    control_plane_path: Path
    control_plane: ControlPlaneConfig
    nodes: tuple[PlannedNode, ...]

    @property
    def http_url(self) -> str:
        return self.control_plane.public_url

    @property
    def grpc_address(self) -> str:
        return self.control_plane.grpc_address


def plan(
    state_dir: Path, reconnect_grace: float, nodes: tuple[NodeSpec, ...] = DEFAULT_NODES
) -> PlannedFleet:
    """Choose ports and directories and write every process's config file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    cp = ControlPlaneConfig()
    cp.http.host, cp.http.port = HOST, free_port()
    cp.grpc.host, cp.grpc.port = HOST, free_port()
    cp.paths.state_dir = str((state_dir / "control-plane").resolve())
    cp.streams.reconnect_grace_seconds = reconnect_grace
    cp_path = state_dir / "control-plane.toml"
    cp_path.write_text(dump_toml(cp))
    planned = []
    for spec in nodes:
        node_dir = (state_dir / "nodes" / spec.name).resolve()
        edge = EdgeConfig()
        edge.node.name, edge.node.region = spec.name, spec.region
        edge.node.roles, edge.node.prefixes = list(spec.roles), list(spec.prefixes)
        edge.control_plane.url, edge.control_plane.grpc = cp.public_url, cp.grpc_address
        edge.paths.state_dir = str(node_dir / "state")
        edge.paths.cache_dir = str(node_dir / "cache")
        edge.rtmp.host, edge.rtmp.port = HOST, free_port()
        edge.http.host, edge.http.port = HOST, free_port()
        edge.srt.host, edge.srt.port = HOST, free_udp_port()
        edge.cache.max_bytes = 2 * 1024**3
        path = node_dir / "edge.toml"
        node_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_toml(edge))
        planned.append(PlannedNode(spec, path, edge))
    return PlannedFleet(state_dir, cp_path, cp, tuple(planned))


def free_udp_port(host: str = HOST) -> int:
    """A UDP port nothing is bound to right now (SRT listens on UDP, `free_port` on TCP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
