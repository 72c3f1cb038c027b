from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TurnupCheck(_message.Message):
    __slots__ = ("name", "ok", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    ok: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., ok: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class Encoder(_message.Message):
    __slots__ = ("name", "hardware", "usable", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    USABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    hardware: bool
    usable: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., hardware: _Optional[bool] = ..., usable: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class Capacity(_message.Message):
    __slots__ = ("egress_bps", "max_streams", "encoder_sessions", "cache_bytes")
    EGRESS_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAMS_FIELD_NUMBER: _ClassVar[int]
    ENCODER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    egress_bps: int
    max_streams: int
    encoder_sessions: int
    cache_bytes: int
    def __init__(self, egress_bps: _Optional[int] = ..., max_streams: _Optional[int] = ..., encoder_sessions: _Optional[int] = ..., cache_bytes: _Optional[int] = ...) -> None: ...

class Load(_message.Message):
    __slots__ = ("cpu", "egress_bps", "cache_bytes", "cache_hit_ratio", "streams_originated", "viewer_sessions", "encoder_sessions")
    CPU_FIELD_NUMBER: _ClassVar[int]
    EGRESS_BPS_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_RATIO_FIELD_NUMBER: _ClassVar[int]
    STREAMS_ORIGINATED_FIELD_NUMBER: _ClassVar[int]
    VIEWER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    ENCODER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    egress_bps: int
    cache_bytes: int
    cache_hit_ratio: float
    streams_originated: int
    viewer_sessions: int
    encoder_sessions: int
    def __init__(self, cpu: _Optional[float] = ..., egress_bps: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., cache_hit_ratio: _Optional[float] = ..., streams_originated: _Optional[int] = ..., viewer_sessions: _Optional[int] = ..., encoder_sessions: _Optional[int] = ...) -> None: ...

class StreamReport(_message.Message):
    __slots__ = ("stream_id", "channel", "origin", "viewer_sessions", "session_hashes", "ingest_bitrate", "ingest_fps", "transcode_lag", "renditions", "state", "media_sequence", "discontinuity_sequence")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    VIEWER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    SESSION_HASHES_FIELD_NUMBER: _ClassVar[int]
    INGEST_BITRATE_FIELD_NUMBER: _ClassVar[int]
    INGEST_FPS_FIELD_NUMBER: _ClassVar[int]
    TRANSCODE_LAG_FIELD_NUMBER: _ClassVar[int]
    RENDITIONS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DISCONTINUITY_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    channel: str
    origin: bool
    viewer_sessions: int
    session_hashes: _containers.RepeatedScalarFieldContainer[int]
    ingest_bitrate: float
    ingest_fps: float
    transcode_lag: float
    renditions: _containers.RepeatedScalarFieldContainer[str]
    state: str
    media_sequence: int
    discontinuity_sequence: int
    def __init__(self, stream_id: _Optional[str] = ..., channel: _Optional[str] = ..., origin: _Optional[bool] = ..., viewer_sessions: _Optional[int] = ..., session_hashes: _Optional[_Iterable[int]] = ..., ingest_bitrate: _Optional[float] = ..., ingest_fps: _Optional[float] = ..., transcode_lag: _Optional[float] = ..., renditions: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ..., media_sequence: _Optional[int] = ..., discontinuity_sequence: _Optional[int] = ...) -> None: ...

class NodeReport(_message.Message):
    __slots__ = ("seq", "sent_at", "roles", "region", "prefixes", "latitude", "longitude", "http_url", "rtmp_url", "capacity", "load", "streams", "turnup", "encoders", "version", "srt_url")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PREFIXES_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    RTMP_URL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    TURNUP_FIELD_NUMBER: _ClassVar[int]
    ENCODERS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SRT_URL_FIELD_NUMBER: _ClassVar[int]
    seq: int
    sent_at: float
    roles: _containers.RepeatedScalarFieldContainer[str]
    region: str
    prefixes: _containers.RepeatedScalarFieldContainer[str]
    latitude: float
    longitude: float
    http_url: str
    rtmp_url: str
    capacity: Capacity
    load: Load
    streams: _containers.RepeatedCompositeFieldContainer[StreamReport]
    turnup: _containers.RepeatedCompositeFieldContainer[TurnupCheck]
    encoders: _containers.RepeatedCompositeFieldContainer[Encoder]
    version: str
    srt_url: str
    def __init__(self, seq: _Optional[int] = ..., sent_at: _Optional[float] = ..., roles: _Optional[_Iterable[str]] = ..., region: _Optional[str] = ..., prefixes: _Optional[_Iterable[str]] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., http_url: _Optional[str] = ..., rtmp_url: _Optional[str] = ..., capacity: _Optional[_Union[Capacity, _Mapping]] = ..., load: _Optional[_Union[Load, _Mapping]] = ..., streams: _Optional[_Iterable[_Union[StreamReport, _Mapping]]] = ..., turnup: _Optional[_Iterable[_Union[TurnupCheck, _Mapping]]] = ..., encoders: _Optional[_Iterable[_Union[Encoder, _Mapping]]] = ..., version: _Optional[str] = ..., srt_url: _Optional[str] = ...) -> None: ...

class Upstream(_message.Message):
    __slots__ = ("stream_id", "channel", "origin_node", "origin_http_url", "shield_node", "shield_http_url")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    SHIELD_NODE_FIELD_NUMBER: _ClassVar[int]
    SHIELD_HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    channel: str
    origin_node: str
    origin_http_url: str
    shield_node: str
    shield_http_url: str
    def __init__(self, stream_id: _Optional[str] = ..., channel: _Optional[str] = ..., origin_node: _Optional[str] = ..., origin_http_url: _Optional[str] = ..., shield_node: _Optional[str] = ..., shield_http_url: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("ack", "drain", "undrain", "config", "upstreams", "end_stream", "replicate_vod", "vod_retention", "cut_clip")
    ACK_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    UNDRAIN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    UPSTREAMS_FIELD_NUMBER: _ClassVar[int]
    END_STREAM_FIELD_NUMBER: _ClassVar[int]
    REPLICATE_VOD_FIELD_NUMBER: _ClassVar[int]
    VOD_RETENTION_FIELD_NUMBER: _ClassVar[int]
    CUT_CLIP_FIELD_NUMBER: _ClassVar[int]
    ack: ReportAck
    drain: Drain
    undrain: Undrain
    config: ConfigChange
    upstreams: UpstreamUpdate
    end_stream: EndStream
    replicate_vod: ReplicateVod
    vod_retention: VodRetention
    cut_clip: CutClip
    def __init__(self, ack: _Optional[_Union[ReportAck, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ..., undrain: _Optional[_Union[Undrain, _Mapping]] = ..., config: _Optional[_Union[ConfigChange, _Mapping]] = ..., upstreams: _Optional[_Union[UpstreamUpdate, _Mapping]] = ..., end_stream: _Optional[_Union[EndStream, _Mapping]] = ..., replicate_vod: _Optional[_Union[ReplicateVod, _Mapping]] = ..., vod_retention: _Optional[_Union[VodRetention, _Mapping]] = ..., cut_clip: _Optional[_Union[CutClip, _Mapping]] = ...) -> None: ...

class ReportAck(_message.Message):
    __slots__ = ("seq", "status")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    status: str
    def __init__(self, seq: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Undrain(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, str]
    def __init__(self, values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpstreamUpdate(_message.Message):
    __slots__ = ("upstreams",)
    UPSTREAMS_FIELD_NUMBER: _ClassVar[int]
    upstreams: _containers.RepeatedCompositeFieldContainer[Upstream]
    def __init__(self, upstreams: _Optional[_Iterable[_Union[Upstream, _Mapping]]] = ...) -> None: ...

class EndStream(_message.Message):
    __slots__ = ("stream_id", "reason")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    reason: str
    def __init__(self, stream_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("app", "stream_key", "client_address", "connection_id", "channel", "protocol")
    APP_FIELD_NUMBER: _ClassVar[int]
    STREAM_KEY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    app: str
    stream_key: str
    client_address: str
    connection_id: str
    channel: str
    protocol: str
    def __init__(self, app: _Optional[str] = ..., stream_key: _Optional[str] = ..., client_address: _Optional[str] = ..., connection_id: _Optional[str] = ..., channel: _Optional[str] = ..., protocol: _Optional[str] = ...) -> None: ...

class PublishDecision(_message.Message):
    __slots__ = ("outcome", "reason", "channel", "stream_id", "resumed", "discontinuity", "reconnect_grace_seconds", "dvr_window_seconds", "media_sequence", "discontinuity_sequence", "other_channel")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[PublishDecision.Outcome]
        ALLOWED: _ClassVar[PublishDecision.Outcome]
        BAD_NAME: _ClassVar[PublishDecision.Outcome]
        DENIED: _ClassVar[PublishDecision.Outcome]
    OUTCOME_UNSPECIFIED: PublishDecision.Outcome
    ALLOWED: PublishDecision.Outcome
    BAD_NAME: PublishDecision.Outcome
    DENIED: PublishDecision.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    DISCONTINUITY_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DVR_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DISCONTINUITY_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OTHER_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    outcome: PublishDecision.Outcome
    reason: str
    channel: str
    stream_id: str
    resumed: bool
    discontinuity: int
    reconnect_grace_seconds: float
    dvr_window_seconds: int
    media_sequence: int
    discontinuity_sequence: int
    other_channel: bool
    def __init__(self, outcome: _Optional[_Union[PublishDecision.Outcome, str]] = ..., reason: _Optional[str] = ..., channel: _Optional[str] = ..., stream_id: _Optional[str] = ..., resumed: _Optional[bool] = ..., discontinuity: _Optional[int] = ..., reconnect_grace_seconds: _Optional[float] = ..., dvr_window_seconds: _Optional[int] = ..., media_sequence: _Optional[int] = ..., discontinuity_sequence: _Optional[int] = ..., other_channel: _Optional[bool] = ...) -> None: ...

class PublishStoppedRequest(_message.Message):
    __slots__ = ("stream_id", "connection_id", "reason")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    connection_id: str
    reason: str
    def __init__(self, stream_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PublishStoppedResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VodRendition(_message.Message):
    __slots__ = ("name", "width", "height", "bandwidth")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    width: int
    height: int
    bandwidth: int
    def __init__(self, name: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., bandwidth: _Optional[int] = ...) -> None: ...

class RecordVodRequest(_message.Message):
    __slots__ = ("vod_id", "stream_id", "channel", "duration_seconds", "size_bytes", "renditions", "ended_at", "mp4", "thumbnail", "replica")
    VOD_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    RENDITIONS_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    MP4_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    vod_id: str
    stream_id: str
    channel: str
    duration_seconds: float
    size_bytes: int
    renditions: _containers.RepeatedCompositeFieldContainer[VodRendition]
    ended_at: float
    mp4: str
    thumbnail: str
    replica: bool
    def __init__(self, vod_id: _Optional[str] = ..., stream_id: _Optional[str] = ..., channel: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., size_bytes: _Optional[int] = ..., renditions: _Optional[_Iterable[_Union[VodRendition, _Mapping]]] = ..., ended_at: _Optional[float] = ..., mp4: _Optional[str] = ..., thumbnail: _Optional[str] = ..., replica: _Optional[bool] = ...) -> None: ...

class RecordVodResponse(_message.Message):
    __slots__ = ("expires_at",)
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: float
    def __init__(self, expires_at: _Optional[float] = ...) -> None: ...

class LocateVodRequest(_message.Message):
    __slots__ = ("vod_id",)
    VOD_ID_FIELD_NUMBER: _ClassVar[int]
    vod_id: str
    def __init__(self, vod_id: _Optional[str] = ...) -> None: ...

class LocateVodResponse(_message.Message):
    __slots__ = ("http_urls",)
    HTTP_URLS_FIELD_NUMBER: _ClassVar[int]
    http_urls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, http_urls: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplicateVod(_message.Message):
    __slots__ = ("vod_id", "source_http_url")
    VOD_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HTTP_URL_FIELD_NUMBER: _ClassVar[int]
    vod_id: str
    source_http_url: str
    def __init__(self, vod_id: _Optional[str] = ..., source_http_url: _Optional[str] = ...) -> None: ...

class VodRetention(_message.Message):
    __slots__ = ("vod_id", "expires_at")
    VOD_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    vod_id: str
    expires_at: float
    def __init__(self, vod_id: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class CutClip(_message.Message):
    __slots__ = ("clip_id", "stream_id", "offset_seconds", "duration_seconds")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    stream_id: str
    offset_seconds: float
    duration_seconds: float
    def __init__(self, clip_id: _Optional[str] = ..., stream_id: _Optional[str] = ..., offset_seconds: _Optional[float] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class ClipDoneRequest(_message.Message):
    __slots__ = ("clip_id", "ok", "error", "duration_seconds", "size_bytes")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    ok: bool
    error: str
    duration_seconds: float
    size_bytes: int
    def __init__(self, clip_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ClipDoneResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
