"""SRT ingest: MPEG-TS over SRT (libsrt through ctypes), the stream key in the stream id.

`_streamid` decides in the handshake what can be decided locally; `server` asks the
control plane the rest after the handshake, as RTMP does, and demuxes the TS
(`edge_node.ingest.mpegts`) into the same `SourceEvent`s the RTMP path hands the origin.
"""

from ._streamid import PublishKey, StreamIdRejected, parse_stream_id

__all__ = ["PublishKey", "StreamIdRejected", "parse_stream_id"]
