"""Turning the RTMP core's events into the `edge_node.media` values the transcoder takes.

Pure and synchronous like the core. RTMP announces the video and the audio configuration
in two separate messages; downstream wants one `SourceConfig` with both, so configs are
held until the first frame and sent together. A configuration that changes mid-stream
is sent again, preceded by a discontinuity.
"""

from __future__ import annotations

from edge_node.ingest.rtmp import CodecConfig, Discontinuity, MediaPacket
from edge_node.media import (
    AudioConfig,
    SourceConfig,
    SourceDiscontinuity,
    SourceEvent,
    SourcePacket,
    VideoConfig,
)


class SourceBridge:
    __slots__ = ("_audio", "_configured", "_dropped", "_sent_config", "_video")

    def __init__(self) -> None:
        self._video: VideoConfig | None = None
        self._audio: AudioConfig | None = None
        self._sent_config: SourceConfig | None = None
        # A configuration arrived since the last packet: only then can the config to
        # send differ from the one sent (spares a SourceConfig per packet).
        self._configured = False
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Frames dropped because their track had no configuration yet."""
        return self._dropped

    def convert(self, event: CodecConfig | MediaPacket | Discontinuity) -> list[SourceEvent]:
        if isinstance(event, CodecConfig):
            self._configure(event)
            return []
        if isinstance(event, Discontinuity):
            return [SourceDiscontinuity(event.reason)]
        return self._packet(event)

    def _configure(self, event: CodecConfig) -> None:
        self._configured = True
        if event.kind == "video":
            self._video = VideoConfig(event.codec, event.data, event.width, event.height)
        else:
            self._audio = AudioConfig(event.codec, event.data, event.sample_rate, event.channels)

    def _packet(self, event: MediaPacket) -> list[SourceEvent]:
        if (self._video if event.kind == "video" else self._audio) is None:
            self._dropped += 1
            return []
        packet = SourcePacket(event.kind, event.dts, event.pts, event.keyframe, event.data)
        if not self._configured:
            return [packet]
        self._configured = False
        out: list[SourceEvent] = []
        config = SourceConfig(self._video, self._audio)
        if config != self._sent_config:
            if self._sent_config is not None and _changed(self._sent_config, config):
                out.append(SourceDiscontinuity("codec configuration changed"))
            out.append(config)
            self._sent_config = config
        out.append(packet)
        return out


def _changed(old: SourceConfig, new: SourceConfig) -> bool:
    # A track appearing late (audio after the first video frame) is not a break.
    return (old.video is not None and old.video != new.video) or (
        old.audio is not None and old.audio != new.audio
    )
