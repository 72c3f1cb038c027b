"""RTMP ingest: a sans-IO protocol core (`RtmpConnection`) and its trio server.

The core imports no I/O library; `server.py` is the only module that touches sockets.
"""

from edge_node.media import TrackKind
from edge_node.sentinels import NEED_DATA, PAUSED, Sentinel

from ._amf0 import UNDEFINED, AmfValue
from ._connection import RtmpConnection
from ._errors import RtmpProtocolError
from ._events import (
    Closed,
    CodecConfig,
    Connected,
    Discontinuity,
    Event,
    MediaPacket,
    Metadata,
    PublishRequested,
    Unpublished,
)
from ._state import State

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
