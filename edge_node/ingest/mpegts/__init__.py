"""A sans-IO MPEG-TS demuxer: 188-byte packets in, the RTMP core's media events out.

What SRT carries (and what any TS ingest would): PAT/PMT, PES reassembly, H.264 and AAC
(ADTS). The events are the RTMP path's `CodecConfig`, `MediaPacket` and `Discontinuity`,
on the same millisecond stream clock, so `SourceBridge` turns them into the `SourceEvent`s
the transcoder already takes. Bounded: only the PAT, one PMT and one video and one audio
elementary stream are ever buffered, each frame up to `max_pes_size`.
"""

from ._demux import MediaRefused, TsDemuxer, TsEvent

__all__ = ["MediaRefused", "TsDemuxer", "TsEvent"]
