"""Typed settings for every Glasscast process.

A config file is TOML; every key has a default that works for `glasscast up`;
``GLASSCAST_<SECTION>_<KEY>`` environment variables override the file
(e.g. ``GLASSCAST_RTMP_PORT=1936``). Values in the environment are read as TOML
literals when they parse as one (``1936``, ``true``, ``["a", "b"]``) and as plain
strings otherwise. Anything wrong fails at start with a `ConfigError` naming the key.

What a value may be is declared in its type (`Literal[...]` for a choice,
`Annotated[..., msgspec.Meta(...)]` for a range or a pattern): msgspec checks it while
decoding and `_as_config_error` words the failure with the key and what is allowed. Only
the checks no type can state (CIDR syntax, keys that go together) are written out below.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec
import tomlkit
from tomlkit.items import Table

ENV_PREFIX = "GLASSCAST_"
INSTALLED_STATE_DIR = Path("/var/lib/glasscast")
INSTALLED_CACHE_DIR = Path("/var/cache/glasscast")
EDGE_CONFIG_PATH = Path("/etc/glasscast/edge.toml")
CONTROL_PLANE_CONFIG_PATH = Path("/etc/glasscast/control-plane.toml")

Role = Literal["ingest", "transcode", "shield", "edge"]
ROLES: tuple[Role, ...] = get_args(Role)

# Declared bounds, checked by msgspec while decoding (see `_as_config_error`). Caps are
# positive where a zero would refuse every broadcaster, or every message.
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class ConfigError(ValueError):
    """A config value is missing, malformed or out of range; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key {key!r}: {message}")
        self.key = key


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for config sections: unknown keys are errors, not silently ignored."""


class MediaTiming(msgspec.Struct, frozen=True, kw_only=True):
    """How live media is cut: Low-Latency HLS segments, and the parts they are made of.

    The one declaration of these defaults: `[transcode]`, the packager, its playlists and
    segmenter and the ladder's peak rate all take theirs from `MEDIA_TIMING`.
    """

    # A segment is cut at the first keyframe after this many seconds.
    segment_duration: PositiveFloat = 2.0
    part_duration: PositiveFloat = 0.333


MEDIA_TIMING = MediaTiming()


# --------------------------------------------------------------------------- edge


class NodeSection(Section):
    name: Annotated[
        str,
        msgspec.Meta(
            # \Z, not $: msgspec searches, and $ would let a trailing newline through.
            pattern=r"^[a-z0-9][a-z0-9-]{0,62}\Z",
            description="1-63 of a-z, 0-9 and '-', starting alphanumeric",
        ),
    ] = "edge-1"
    region: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z0-9_.-]{1,64}\Z",
            description="1-64 of letters, digits, '_', '.', '-'",
        ),
    ] = "default"
    roles: Annotated[
        list[Role], msgspec.Meta(min_length=1, description="a list of at least one role")
    ] = msgspec.field(default_factory=lambda: ["ingest", "transcode", "edge"])
    # Client prefixes this node serves, like an ISP announcing its customers to an
    # embedded cache (IPv4 and IPv6 CIDRs).
    prefixes: list[str] = msgspec.field(default_factory=list)
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    # Capacity the control plane routes against.
    egress_capacity_bps: int = 10_000_000_000
    max_streams: int = 8


class ControlPlaneLink(Section):
    # Empty: use what `glasscast edge enroll` recorded; set them when the control
    # plane moves to another address.
    url: str = ""
    grpc: str = ""
    report_interval: PositiveFloat = 2.0


class PathsSection(Section):
    state_dir: str = str(INSTALLED_STATE_DIR)
    cache_dir: str = str(INSTALLED_CACHE_DIR)


class RtmpSection(Section):
    host: str = "0.0.0.0"
    port: Port = 1935
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
    max_pending_connections: PositiveInt = 200
    max_pending_per_ip: PositiveInt = 8
    max_message_size: int = 8 * 1024 * 1024
    # The largest message before a publish is granted: the commands up to `publish` take
    # a few hundred bytes; media and its big messages come only after.
    max_pending_message_size: PositiveInt = 64 * 1024
    max_chunk_streams: int = 64
    # After this many publishes refused for an unknown stream key from one client address
    # within `publish_failure_window` seconds of the first, its further publishes are
    # refused without asking the control plane until that window has passed.
    max_publish_failures: PositiveInt = 5
    publish_failure_window: PositiveFloat = 60.0
    # Client addresses that throttle remembers at once; past it, the oldest are forgotten.
    publish_failure_addresses: PositiveInt = 4096
    # Packets buffered between ingest and transcode before a stream is dropped.
    handoff_queue: int = 1024
    # When set, every publish is also written raw to `<record_dir>/<channel>-<id>.flv`.
    record_dir: str = ""
    # Seconds to let a live publisher's frames gather between socket reads: fewer
    # wake-ups (about 1% of a core less per stream) for that much added latency. Off by
    # default: low-latency HLS parts wait for their last frame.
    read_coalesce: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0


class SrtSection(Section):
    """SRT ingest (ingest role): MPEG-TS over SRT, the stream key in the SRT stream id."""

    # Needs libsrt (Debian: libsrt1.5-gnutls, a dependency of the glasscast-edge package).
    enabled: bool = True
    host: str = "0.0.0.0"
    # UDP. 0 picks a free port (tests and `glasscast up`).
    port: Port = 9000
    # The address broadcasters are told to use; empty means derive from host/port.
    public_url: str = ""
    # When set, callers must encrypt with it (SRT's own AES); SRT takes 10 to 79 characters.
    passphrase: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(|.{10,79})\Z", description="empty, or 10 to 79 characters (SRT's limits)"
        ),
    ] = ""
    # Receiver buffer latency (ms): the time SRT has to recover a lost packet before it
    # gives up on it. 120 ms is SRT's own default; lossy links want 3-4 round trips.
    latency_ms: Annotated[int, msgspec.Meta(ge=20, le=8000)] = 120
    # Seconds without a packet from a publishing caller before SRT declares it gone
    # (libsrt also waits for 16 unanswered keepalive periods: about 5 s at the least).
    idle_timeout: Annotated[float, msgspec.Meta(ge=1, le=300)] = 5.0
    # Seconds from the handshake to the control plane's answer; past it the caller is
    # dropped, so a broadcaster with a wrong key learns it within this.
    authorize_timeout: PositiveFloat = 1.0
    max_connections: PositiveInt = 200
    # One demuxed frame (a PES packet); a 4K keyframe is a few MB.
    max_pes_size: PositiveInt = 8 * 1024 * 1024


class WebrtcSection(Section):
    """WebRTC (WHIP) ingest: where ICE host candidates point and the UDP ports they use."""

    # The address put in ICE host candidates; what broadcasters can reach this node at.
    public_ip: str = "127.0.0.1"
    udp_port_min: Port = 20000
    udp_port_max: Port = 20999


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
    port: Port = 8081
    public_url: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # Viewer session tokens: "required" refuses playback without one, "open" counts
    # viewers by an edge-assigned session id.
    viewer_tokens: Literal["required", "open"] = "required"


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
    encoder: Literal["auto", "nvenc", "libx264"] = "auto"
    x264_preset: str = "veryfast"
    nvenc_preset: str = "p4"
    audio_bitrate: int = 128_000
    segment_duration: PositiveFloat = MEDIA_TIMING.segment_duration
    part_duration: PositiveFloat = MEDIA_TIMING.part_duration
    # Seconds behind real time before a worker sheds its most expensive rendition.
    shed_lag_seconds: float = 3.0
    ladder: list[RenditionEntry] = msgspec.field(default_factory=_default_ladder)


class CacheSection(Section):
    max_bytes: PositiveInt = 20 * 1024**3
    memory_max_bytes: int = 256 * 1024**2


# How far back a viewer may seek in a live stream (and what an origin keeps on disk).
DVR_WINDOW_SECONDS = 4 * 3600


class DvrSection(Section):
    window_seconds: PositiveInt = DVR_WINDOW_SECONDS


class LoggingSection(Section):
    level: str = "info"
    json: bool = False


class EdgeConfig(Section):
    node: NodeSection = msgspec.field(default_factory=NodeSection)
    control_plane: ControlPlaneLink = msgspec.field(default_factory=ControlPlaneLink)
    paths: PathsSection = msgspec.field(default_factory=PathsSection)
    rtmp: RtmpSection = msgspec.field(default_factory=RtmpSection)
    srt: SrtSection = msgspec.field(default_factory=SrtSection)
    webrtc: WebrtcSection = msgspec.field(default_factory=WebrtcSection)
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
    port: Port = 8080
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
    port: Port = 50051
    # The address nodes dial; empty means host:port.
    public_address: str = ""
    # Extra names and addresses put in the gRPC server certificate.
    tls_names: list[str] = msgspec.field(default_factory=lambda: ["localhost", "127.0.0.1"])


class CpPathsSection(Section):
    state_dir: str = str(INSTALLED_STATE_DIR)
    # Empty means `<state_dir>/control-plane.db`.
    database: str = ""


class FleetSection(Section):
    report_interval: PositiveFloat = 2.0
    missed_reports_unhealthy: Annotated[int, msgspec.Meta(ge=1)] = 3
    manual_approval: bool = False
    enrollment_token_ttl: int = 24 * 3600


class StreamsSection(Section):
    reconnect_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 60.0
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
_PATH_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]+)`")
# msgspec's words for a value of the right type outside what its type declares (a range,
# a choice, a pattern, a length): the message is worded from the declaration instead.
_NOT_ALLOWED = re.compile(
    r"^(?:Invalid enum value |Expected `[^`]+` (?:[<>]=?|matching|of length))"
)


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
        raise _as_config_error(kind, data, str(exc)) from None
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


def _as_config_error(kind: type[msgspec.Struct], data: Any, message: str) -> ConfigError:
    unknown = _UNKNOWN_FIELD.search(message)
    where = _MSGSPEC_PATH.search(message)
    path = where.group(1) if where else ""
    key = path.lstrip(".")
    if unknown:
        return ConfigError(f"{key}.{unknown.group(1)}" if key else unknown.group(1), "unknown key")
    detail = _MSGSPEC_PATH.sub("", message)
    if path and _NOT_ALLOWED.match(detail):
        steps = [int(i) if i else name for name, i in _PATH_STEP.findall(path)]
        allowed = _allowed(_declared_type(kind, steps))
        if allowed is not None:
            detail = f"must be {allowed}, got {_value_at(data, steps)!r}"
    return ConfigError(key or "<root>", detail)


def _declared_type(kind: type[msgspec.Struct], steps: list[str | int]) -> Any:
    """The annotation of the value at `steps` (field names and list indexes)."""
    tp: Any = kind
    for step in steps:
        tp = _bare(tp)
        if isinstance(step, int):
            (tp,) = get_args(tp)  # list[T]
        else:
            tp = next(f.type for f in msgspec.structs.fields(tp) if f.name == step)
    return tp


def _bare(tp: Any) -> Any:
    """`tp` without its `Annotated` metadata and without the None of an optional value."""
    if get_origin(tp) is Annotated:
        return _bare(get_args(tp)[0])
    if get_origin(tp) in (Union, UnionType):
        types = [t for t in get_args(tp) if t is not type(None)]
        return _bare(types[0]) if len(types) == 1 else tp
    return tp


_BOUNDS = (("gt", "more than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most"))


def _allowed(tp: Any) -> str | None:
    """What an annotation allows, in words ("within 0..65535", "'a' or 'b'")."""
    if get_origin(tp) in (Union, UnionType):
        types = [t for t in get_args(tp) if t is not type(None)]
        return _allowed(types[0]) if len(types) == 1 else None
    if get_origin(tp) is Literal:
        *others, last = (repr(v) for v in get_args(tp))
        return f"{', '.join(others)} or {last}" if others else last
    if get_origin(tp) is not Annotated:
        return None
    inner, meta = get_args(tp)
    if meta.description:
        return str(meta.description)
    if meta.ge is not None and meta.le is not None:
        return f"within {meta.ge}..{meta.le}"
    if meta.gt == 0 and meta.lt is None and meta.le is None:
        return "positive"
    bounds = [f"{words} {getattr(meta, b)}" for b, words in _BOUNDS if getattr(meta, b) is not None]
    if bounds:
        return " and ".join(bounds)
    if meta.pattern is not None:
        return f"a string matching {meta.pattern!r}"
    if meta.min_length:
        return f"a list of at least {meta.min_length}"
    return _allowed(inner)


def _value_at(data: Any, steps: list[str | int]) -> Any:
    for step in steps:
        data = data[step]
    return data


def _validate(config: EdgeConfig | ControlPlaneConfig) -> None:
    """The checks no type declares: CIDR syntax and keys that depend on each other."""
    if isinstance(config, EdgeConfig):
        _validate_edge(config)
    else:
        _validate_control_plane(config)


def _check_cidrs(key: str, cidrs: list[str]) -> None:
    for i, cidr in enumerate(cidrs):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"{key}[{i}]", f"{cidr!r} is not a valid CIDR prefix") from None


def _validate_edge(c: EdgeConfig) -> None:
    _check_cidrs("node.prefixes", c.node.prefixes)
    if bool(c.http.tls_cert) != bool(c.http.tls_key):
        raise ConfigError("http.tls_key", "tls_cert and tls_key go together")
    if c.transcode.part_duration > c.transcode.segment_duration:
        raise ConfigError("transcode.part_duration", "must not exceed segment_duration")
    for i, r in enumerate(c.transcode.ladder):
        if not r.passthrough and (r.height <= 0 or r.video_bitrate <= 0):
            raise ConfigError(f"transcode.ladder[{i}]", "needs height and video_bitrate")
    if c.webrtc.udp_port_min > c.webrtc.udp_port_max:
        raise ConfigError("webrtc.udp_port_max", "must not be below udp_port_min")


def _validate_control_plane(c: ControlPlaneConfig) -> None:
    _check_cidrs("http.trusted_proxies", c.http.trusted_proxies)
    _check_cidrs("routing.cidr_regions", list(c.routing.cidr_regions))


def dump_toml(config: EdgeConfig | ControlPlaneConfig) -> str:
    """Render a config as TOML: how `glasscast up` writes each child's file, and what the
    packages' conffiles are made from (packaging/gen_conffile.py).

    Sections are tables and lists of sections arrays of tables; every other value, a
    dict included, is written inline on its key's line. An unset (None) key is left
    out, since TOML has no null.
    """
    return tomlkit.dumps(_toml_table(config, tomlkit.document()))


_Table = TypeVar("_Table", tomlkit.TOMLDocument, Table)


def _toml_table(section: msgspec.Struct, table: _Table) -> _Table:
    for name in section.__struct_fields__:
        value = getattr(section, name)
        if isinstance(value, msgspec.Struct):
            table.add(name, _toml_table(value, tomlkit.table()))
        elif value and isinstance(value, list) and isinstance(value[0], msgspec.Struct):
            array = tomlkit.aot()
            for item in value:
                array.append(_toml_table(item, tomlkit.table()))
            table.add(name, array)
        elif isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            table.add(name, inline)
        elif value is not None:
            table.add(name, value)
    return table


def resolve_path(explicit: Path | str | None, installed: Path) -> Path | None:
    """The config file to read: the one named, else the installed one if present."""
    if explicit is not None:
        return Path(explicit)
    return installed if installed.exists() else None
