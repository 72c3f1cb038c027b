"""RTMP ingest: a sans-IO protocol core (`RtmpConnection`) and its trio server.

The core imports no I/O library; `server.py` is the only module that touches sockets.
"""

from ._amf0 import UNDEFINED, AmfValue
from ._connection import RtmpConnection, State
from ._errors import RtmpProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    Closed,
    CodecConfig,
    Connected,
    Discontinuity,
    Event,
    MediaPacket,
    Metadata,
    PublishRequested,
    Sentinel,
    TrackKind,
    Unpublished,
)

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "UNDEFINED",
    "AmfValue",
    "Closed",
    "CodecConfig",
    "Connected",
    "Discontinuity",
    "Event",
    "MediaPacket",
    "Metadata",
    "PublishRequested",
    "RtmpConnection",
    "RtmpProtocolError",
    "Sentinel",
    "State",
    "TrackKind",
    "Unpublished",
]
