"""Typed settings for every Glasscast process.

A config file is TOML; every key has a default that works for `glasscast up`;
``GLASSCAST_<SECTION>_<KEY>`` environment variables override the file
(e.g. ``GLASSCAST_RTMP_PORT=1936``). Values in the environment are read as TOML
literals when they parse as one (``1936``, ``true``, ``["a", "b"]``) and as plain
strings otherwise. Anything wrong fails at start with a `ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

ENV_PREFIX = "GLASSCAST_"
INSTALLED_STATE_DIR = Path("/var/lib/glasscast")
INSTALLED_CACHE_DIR = Path("/var/cache/glasscast")
EDGE_CONFIG_PATH = Path("/etc/glasscast/edge.toml")
CONTROL_PLANE_CONFIG_PATH = Path("/etc/glasscast/control-plane.toml")

ROLES = ("ingest", "transcode", "shield", "edge")


class ConfigError(ValueError):
    """A config value is missing, malformed or out of range; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key {key!r}: {message}")
        self.key = key


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for config sections: unknown keys are errors, not silently ignored."""


# --------------------------------------------------------------------------- edge


class NodeSection(Section):
    name: str = "edge-1"
    region: str = "default"
    roles: list[str] = msgspec.field(default_factory=lambda: ["ingest", "transcode", "edge"])
    # Client prefixes this node serves, like an ISP announcing its customers to an
    # embedded cache (IPv4 and IPv6 CIDRs).
    prefixes: list[str] = msgspec.field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    # Capacity the control plane routes against.
    egress_capacity_bps: int = 10_000_000_000
    max_streams: int = 8


class ControlPlaneLink(Section):
    # Empty: use what `glasscast edge enroll` recorded; set them when the control
    # plane moves to another address.
    url: str = ""
    grpc: str = ""
    report_interval: float = 2.0


class PathsSection(Section):
    state_dir: str = str(INSTALLED_STATE_DIR)
    cache_dir: str = str(INSTALLED_CACHE_DIR)


class RtmpSection(Section):
    host: str = "0.0.0.0"
    port: int = 1935
    # The address broadcasters are told to use; empty means derive from host/port.
    public_url: str = ""
    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    publish_timeout: float = 30.0
    max_connections: int = 1000
    # Per client address; an IPv6 client counts by its /64, which its owner can rotate through.
    max_connections_per_ip: int = 20
    # Connections not (yet) granted a publish: anyone can open them, so they have caps of
    # their own, within the two above. The handshake, connect and publish take a client
    # milliseconds, so a legitimate one seldom holds a slot for long.
    max_pending_connections: int = 200
    max_pending_per_ip: int = 8
    max_message_size: int = 8 * 1024 * 1024
    # The largest message before a publish is granted: the commands up to `publish` take
    # a few hundred bytes; media and its big messages come only after.
    max_pending_message_size: int = 64 * 1024
    max_chunk_streams: int = 64
    # After this many publishes refused for an unknown stream key from one client address
    # within `publish_failure_window` seconds of the first, its further publishes are
    # refused without asking the control plane until that window has passed.
    max_publish_failures: int = 5
    publish_failure_window: float = 60.0
    # Client addresses that throttle remembers at once; past it, the oldest are forgotten.
    publish_failure_addresses: int = 4096
    # Packets buffered between ingest and transcode before a stream is dropped.
    handoff_queue: int = 1024
    # When set, every publish is also written raw to `<record_dir>/<channel>-<id>.flv`.
    record_dir: str = ""
    # Seconds to let a live publisher's frames gather between socket reads: fewer
    # wake-ups (about 1% of a core less per stream) for that much added latency. Off by
    # default: low-latency HLS parts wait for their last frame.
    read_coalesce: float = 0.0


class ListenerLimits(Section):
    """What one client may hold of a public HTTP listener (edge and control plane)."""

    # Seconds from a connection's start (or a request's first byte) to its last
    # header line; a client that takes longer is answered 408 and closed.
    header_timeout: float = 10.0
    # Seconds a keep-alive connection may sit between requests.
    idle_timeout: float = 60.0
    # Request line plus header lines; past either limit the answer is 431.
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_connections: int = 20_000
    # Reverse proxies the control plane trusts are exempt (their clients are many).
    max_connections_per_ip: int = 256


class HttpSection(ListenerLimits):
    host: str = "0.0.0.0"
    port: int = 8081
    public_url: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # Viewer session tokens: "required" refuses playback without one, "open" counts
    # viewers by an edge-assigned session id.
    viewer_tokens: str = "required"


class RenditionEntry(Section):
    name: str
    height: int = 0
    fps: float = 30.0
    video_bitrate: int = 0
    profile: str = "main"
    # The source rendition is passed through without re-encoding.
    passthrough: bool = False


def _default_ladder() -> list[RenditionEntry]:
    return [
        RenditionEntry(name="source", passthrough=True),
        RenditionEntry(name="720p30", height=720, video_bitrate=3_000_000, profile="main"),
        RenditionEntry(name="480p30", height=480, video_bitrate=1_500_000, profile="main"),
        RenditionEntry(name="360p30", height=360, video_bitrate=800_000, profile="baseline"),
        RenditionEntry(name="160p30", height=160, video_bitrate=250_000, profile="baseline"),
    ]


class TranscodeSection(Section):
    # "auto" probes h264_nvenc then libx264; "nvenc" or "libx264" forces one.
    encoder: str = "auto"
    x264_preset: str = "veryfast"
    nvenc_preset: str = "p4"
    audio_bitrate: int = 128_000
    segment_duration: float = 2.0
    part_duration: float = 0.333
    # Seconds behind real time before a worker sheds its most expensive rendition.
    shed_lag_seconds: float = 3.0
    ladder: list[RenditionEntry] = msgspec.field(default_factory=_default_ladder)


class CacheSection(Section):
    max_bytes: int = 20 * 1024**3
    memory_max_bytes: int = 256 * 1024**2


class DvrSection(Section):
    window_seconds: int = 4 * 3600


class LoggingSection(Section):
    level: str = "info"
    json: bool = False


class EdgeConfig(Section):
    node: NodeSection = msgspec.field(default_factory=NodeSection)
    control_plane: ControlPlaneLink = msgspec.field(default_factory=ControlPlaneLink)
    paths: PathsSection = msgspec.field(default_factory=PathsSection)
    rtmp: RtmpSection = msgspec.field(default_factory=RtmpSection)
    http: HttpSection = msgspec.field(default_factory=HttpSection)
    transcode: TranscodeSection = msgspec.field(default_factory=TranscodeSection)
    cache: CacheSection = msgspec.field(default_factory=CacheSection)
    dvr: DvrSection = msgspec.field(default_factory=DvrSection)
    logging: LoggingSection = msgspec.field(default_factory=LoggingSection)

    @property
    def state_dir(self) -> Path:
        return Path(self.paths.state_dir)

    @property
    def cache_dir(self) -> Path:
        return Path(self.paths.cache_dir)


# ------------------------------------------------------------------ control plane


class CpHttpSection(ListenerLimits):
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL nodes, viewers and the TUI reach this control plane at.
    public_url: str = ""
    # Peers whose X-Forwarded-For is believed (reverse proxies), as CIDRs.
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    # Request bodies are read whole before they are parsed: past this, 413.
    max_body_bytes: int = 1024 * 1024
    # JSON nested deeper than this is refused (400) before it reaches a decoder.
    max_json_depth: int = 32


class CpGrpcSection(Section):
    host: str = "127.0.0.1"
    port: int = 50051
    # The address nodes dial; empty means host:port.
    public_address: str = ""
    # Extra names and addresses put in the gRPC server certificate.
    tls_names: list[str] = msgspec.field(default_factory=lambda: ["localhost", "127.0.0.1"])


class CpPathsSection(Section):
    state_dir: str = str(INSTALLED_STATE_DIR)
    # Empty means `<state_dir>/control-plane.db`.
    database: str = ""


class FleetSection(Section):
    report_interval: float = 2.0
    missed_reports_unhealthy: int = 3
    manual_approval: bool = False
    enrollment_token_ttl: int = 24 * 3600


class StreamsSection(Section):
    reconnect_grace_seconds: float = 60.0
    viewer_token_ttl: int = 6 * 3600


class RoutingSection(Section):
    # CIDR -> region for clients outside every node's prefixes.
    cidr_regions: dict[str, str] = msgspec.field(default_factory=dict)
    # Load (egress / capacity) above which viewers spill to the next edge.
    spill_threshold: float = 0.8
    play_rate_per_minute: int = 120


class ChatSection(Section):
    redis_url: str = ""
    history: int = 100
    rate_limit_messages: int = 20
    rate_limit_window: float = 30.0
    max_message_chars: int = 500
    max_frame_bytes: int = 4096
    max_connections_per_ip: int = 50
    batch_interval: float = 0.1
    hot_room_rate: float = 50.0
    token_ttl: int = 12 * 3600


class ControlPlaneConfig(Section):
    http: CpHttpSection = msgspec.field(default_factory=CpHttpSection)
    grpc: CpGrpcSection = msgspec.field(default_factory=CpGrpcSection)
    paths: CpPathsSection = msgspec.field(default_factory=CpPathsSection)
    fleet: FleetSection = msgspec.field(default_factory=FleetSection)
    streams: StreamsSection = msgspec.field(default_factory=StreamsSection)
    routing: RoutingSection = msgspec.field(default_factory=RoutingSection)
    chat: ChatSection = msgspec.field(default_factory=ChatSection)
    logging: LoggingSection = msgspec.field(default_factory=LoggingSection)

    @property
    def state_dir(self) -> Path:
        return Path(self.paths.state_dir)

    @property
    def database_path(self) -> Path:
        return (
            Path(self.paths.database)
            if self.paths.database
            else self.state_dir / "control-plane.db"
        )

    @property
    def public_url(self) -> str:
        return self.http.public_url or f"http://{self.http.host}:{self.http.port}"

    @property
    def grpc_address(self) -> str:
        return self.grpc.public_address or f"{self.grpc.host}:{self.grpc.port}"


# ----------------------------------------------------------------------- loading

C = TypeVar("C", EdgeConfig, ControlPlaneConfig)

_MSGSPEC_PATH = re.compile(r" - at `\$((?:\.[A-Za-z_][\w]*|\[\d+\])*)`$")
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]+)`")


def load(kind: type[C], path: Path | str | None = None, env: Mapping[str, str] | None = None) -> C:
    """Read `path` (absent file = all defaults), apply environment overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError("<file>", f"{p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", f"{p} is not valid TOML: {exc}") from None
    _apply_env(kind, data, os.environ if env is None else env)
    try:
        config = msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise _as_config_error(str(exc)) from None
    _validate(config)
    return config


def _apply_env(kind: type[msgspec.Struct], data: dict[str, Any], env: Mapping[str, str]) -> None:
    sections = {f.name: f.type for f in msgspec.structs.fields(kind)}
    # Longest section names first so `control_plane_url` is not read as `control`.
    for name in sorted(sections, key=len, reverse=True):
        prefix = f"{ENV_PREFIX}{name.upper()}_"
        for var, raw in env.items():
            if not var.startswith(prefix):
                continue
            key = var[len(prefix) :].lower()
            section_type = sections[name]
            known = {f.name for f in msgspec.structs.fields(section_type)}
            if key not in known:
                raise ConfigError(f"{name}.{key}", f"unknown key (from environment {var})")
            data.setdefault(name, {})[key] = _parse_env_value(raw)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _as_config_error(message: str) -> ConfigError:
    unknown = _UNKNOWN_FIELD.search(message)
    where = _MSGSPEC_PATH.search(message)
    path = where.group(1).lstrip(".") if where else ""
    if unknown:
        key = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        return ConfigError(key, "unknown key")
    detail = _MSGSPEC_PATH.sub("", message)
    return ConfigError(path or "<root>", detail)


def _validate(config: EdgeConfig | ControlPlaneConfig) -> None:
    if isinstance(config, EdgeConfig):
        _validate_edge(config)
    else:
        _validate_control_plane(config)


def _check_port(key: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(key, f"port {port} is out of range 0-65535")


def _check_cidrs(key: str, cidrs: list[str]) -> None:
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"{key}[{i}]", f"{cidr!r} is not a valid CIDR prefix") from None


def _check_positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(key, f"must be positive, got {value}")


# A zero here would refuse every broadcaster, or every message.
_RTMP_POSITIVE = (
    "max_pending_connections",
    "max_pending_per_ip",
    "max_pending_message_size",
    "max_publish_failures",
    "publish_failure_window",
    "publish_failure_addresses",
)


def _validate_edge(c: EdgeConfig) -> None:
    if not c.node.name or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", c.node.name):
        raise ConfigError("node.name", "must be 1-63 of a-z, 0-9 and '-', starting alphanumeric")
    if not c.node.region or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", c.node.region):
        raise ConfigError("node.region", "must be 1-64 of letters, digits, '_', '.', '-'")
    for i, role in enumerate(c.node.roles):
        if role not in ROLES:
            raise ConfigError(f"node.roles[{i}]", f"unknown role {role!r}; one of {ROLES}")
    if not c.node.roles:
        raise ConfigError("node.roles", "a node needs at least one role")
    _check_cidrs("node.prefixes", c.node.prefixes)
    if c.node.latitude is not None and not -90 <= c.node.latitude <= 90:
        raise ConfigError("node.latitude", "must be within -90..90")
    if c.node.longitude is not None and not -180 <= c.node.longitude <= 180:
        raise ConfigError("node.longitude", "must be within -180..180")
    _check_port("rtmp.port", c.rtmp.port)
    for key in _RTMP_POSITIVE:
        _check_positive(f"rtmp.{key}", getattr(c.rtmp, key))
    if not 0 <= c.rtmp.read_coalesce <= 1:
        raise ConfigError("rtmp.read_coalesce", "must be within 0..1 seconds")
    _check_port("http.port", c.http.port)
    if bool(c.http.tls_cert) != bool(c.http.tls_key):
        raise ConfigError("http.tls_key", "tls_cert and tls_key go together")
    if c.http.viewer_tokens not in ("required", "open"):
        raise ConfigError("http.viewer_tokens", "must be 'required' or 'open'")
    if c.transcode.encoder not in ("auto", "nvenc", "libx264"):
        raise ConfigError("transcode.encoder", "must be 'auto', 'nvenc' or 'libx264'")
    _check_positive("transcode.segment_duration", c.transcode.segment_duration)
    _check_positive("transcode.part_duration", c.transcode.part_duration)
    if c.transcode.part_duration > c.transcode.segment_duration:
        raise ConfigError("transcode.part_duration", "must not exceed segment_duration")
    for i, r in enumerate(c.transcode.ladder):
        if not r.passthrough and (r.height <= 0 or r.video_bitrate <= 0):
            raise ConfigError(f"transcode.ladder[{i}]", "needs height and video_bitrate")
    _check_positive("cache.max_bytes", c.cache.max_bytes)
    _check_positive("dvr.window_seconds", c.dvr.window_seconds)
    _check_positive("control_plane.report_interval", c.control_plane.report_interval)


def _validate_control_plane(c: ControlPlaneConfig) -> None:
    _check_port("http.port", c.http.port)
    _check_port("grpc.port", c.grpc.port)
    _check_cidrs("http.trusted_proxies", c.http.trusted_proxies)
    _check_cidrs("routing.cidr_regions", list(c.routing.cidr_regions))
    _check_positive("fleet.report_interval", c.fleet.report_interval)
    if c.fleet.missed_reports_unhealthy < 1:
        raise ConfigError("fleet.missed_reports_unhealthy", "must be at least 1")
    if c.streams.reconnect_grace_seconds < 0:
        raise ConfigError("streams.reconnect_grace_seconds", "must not be negative")


def dump_toml(config: EdgeConfig | ControlPlaneConfig) -> str:
    """Render a config as TOML (used by `glasscast up` to write each child's file)."""
    return _to_toml(msgspec.to_builtins(config))


def _to_toml(data: dict[str, Any], prefix: str = "") -> str:
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        is_table_array = (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        )
        if (isinstance(value, dict) and key != "cidr_regions") or is_table_array:
            tables.append((f"{prefix}{key}", value))
        elif value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, value in tables:
        if isinstance(value, list):
            for item in value:
                lines.append(f"\n[[{name}]]\n" + _to_toml(item, f"{name}.").rstrip("\n"))
        else:
            lines.append(f"\n[{name}]\n" + _to_toml(value, f"{name}.").rstrip("\n"))
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def resolve_path(explicit: Path | str | None, installed: Path) -> Path | None:
    """The config file to read: the one named, else the installed one if present."""
    if explicit is not None:
        return Path(explicit)
    return installed if installed.exists() else None
