"""RTMP message type ids, User Control event ids, and unpacking aggregate messages."""

from __future__ import annotations

from ._chunks import Message
from ._errors import RtmpProtocolError

SET_CHUNK_SIZE = 1
ABORT = 2
ACKNOWLEDGEMENT = 3
USER_CONTROL = 4
WINDOW_ACK_SIZE = 5
SET_PEER_BANDWIDTH = 6
AUDIO = 8
VIDEO = 9
AMF3_DATA = 15
AMF3_SHARED_OBJECT = 16
AMF3_COMMAND = 17
AMF0_DATA = 18
AMF0_SHARED_OBJECT = 19
AMF0_COMMAND = 20
AGGREGATE = 22

USER_STREAM_BEGIN = 0
USER_STREAM_EOF = 1
USER_SET_BUFFER_LENGTH = 3
USER_PING_REQUEST = 6
USER_PING_RESPONSE = 7


def split_aggregate(message: Message) -> list[Message]:
    """The FLV tags packed in an aggregate message, as messages of their own.

    Sub-tag timestamps are relative to the first one; the aggregate's own timestamp anchors them.
    """
    data, pos, parts = message.payload, 0, []
    first: int | None = None
    while pos + 11 <= len(data):
        type_id = data[pos]
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        stamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        body = data[pos + 11 : pos + 11 + size]
        if len(body) != size:
            raise RtmpProtocolError("aggregate sub-message runs past the end")
        first = stamp if first is None else first
        timestamp = (message.timestamp + stamp - first) % (1 << 32)
        parts.append(Message(message.csid, type_id, message.stream_id, timestamp, body))
        pos += 11 + size + 4  # and the back-pointer, which tells nothing new
    return parts
