"""The messages a publishing server writes: protocol control, user control, commands.

Message type ids and chunk stream choices follow what nginx-rtmp and FMS send, since
encoders are tested against those.
"""

from __future__ import annotations

import struct

from . import _amf0
from ._amf0 import AmfValue
from ._chunks import ChunkWriter
from ._messages import (
    ACKNOWLEDGEMENT,
    AMF0_COMMAND,
    SET_CHUNK_SIZE,
    SET_PEER_BANDWIDTH,
    USER_CONTROL,
    WINDOW_ACK_SIZE,
)

_CONTROL_CSID = 2
_COMMAND_CSID = 3
_STREAM_CSID = 5
_U32 = struct.Struct(">I")


class ReplyWriter:
    """Builds the bytes of each reply; owns the outgoing chunk size."""

    def __init__(self) -> None:
        self._chunks = ChunkWriter()

    def _control(self, type_id: int, payload: bytes) -> bytes:
        return self._chunks.write(_CONTROL_CSID, type_id, 0, 0, payload)

    def set_chunk_size(self, size: int) -> bytes:
        data = self._control(SET_CHUNK_SIZE, _U32.pack(size))
        self._chunks.chunk_size = size
        return data

    def window_ack_size(self, size: int) -> bytes:
        return self._control(WINDOW_ACK_SIZE, _U32.pack(size))

    def set_peer_bandwidth(self, size: int) -> bytes:
        # Limit type 2 (dynamic): the usual choice of servers.
        return self._control(SET_PEER_BANDWIDTH, _U32.pack(size) + b"\x02")

    def acknowledgement(self, received: int) -> bytes:
        return self._control(ACKNOWLEDGEMENT, _U32.pack(received % (1 << 32)))

    def user_control(self, event: int, value: bytes) -> bytes:
        return self._control(USER_CONTROL, struct.pack(">H", event) + value)

    def command(
        self,
        name: str,
        transaction: float,
        *args: AmfValue | dict[str, AmfValue],
        stream_id: int = 0,
    ) -> bytes:
        body = _amf0.encode(name, transaction, *args)
        csid = _STREAM_CSID if stream_id else _COMMAND_CSID
        return self._chunks.write(csid, AMF0_COMMAND, stream_id, 0, body)

    def on_status(self, stream_id: int, level: str, code: str, description: str) -> bytes:
        info: dict[str, AmfValue] = {"level": level, "code": code, "description": description}
        return self.command("onStatus", 0, None, info, stream_id=stream_id)
