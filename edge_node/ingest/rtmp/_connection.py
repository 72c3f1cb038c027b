"""`RtmpConnection`: the server side of one RTMP connection, without I/O.

Use it like h11: feed what the socket gave with `receive_data()` (b"" for end of file),
drain `next_event()` until it returns `NEED_DATA`, and write `data_to_send()` to the
socket after each batch. Replies to the client (handshake, connect result, pings,
acknowledgements, onStatus) all go to that outbox; nothing is sent behind your back.

Publishing is a two-step exchange: the core emits `PublishRequested` and holds the
stream until the owner calls `accept_publish()` or `reject_publish()`. Until a publish
is accepted the peer is anyone at all, so its messages are held to
`max_pending_message_size`, enough for the commands; `max_message_size` applies after.

Every malformed input raises `RtmpProtocolError`; after it the connection is dead and the
owner should close the socket. Refusals the client can understand (AMF3, an unsupported
codec, a rejected publish) are not errors: they queue an error reply and end in `Closed`.

The connection's states and every move between them are the table in `_state.py`.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Literal

from edge_node.sentinels import NEED_DATA, PAUSED, Sentinel
from shared.config import RtmpSection

from . import _amf0, _media
from ._amf0 import AmfValue
from ._chunks import ChunkReader, Message
from ._errors import RtmpProtocolError
from ._events import (
    Closed,
    Connected,
    Event,
    Metadata,
    PublishRequested,
    Unpublished,
)
from ._handshake import PACKET_SIZE, server_handshake
from ._messages import (
    ABORT,
    AGGREGATE,
    AMF0_COMMAND,
    AMF0_DATA,
    AMF3_COMMAND,
    AMF3_DATA,
    AMF3_SHARED_OBJECT,
    AUDIO,
    SET_CHUNK_SIZE,
    USER_CONTROL,
    USER_PING_REQUEST,
    USER_PING_RESPONSE,
    USER_STREAM_BEGIN,
    VIDEO,
    WINDOW_ACK_SIZE,
    split_aggregate,
)
from ._replies import ReplyWriter
from ._state import HANDSHAKING, IN_PUBLISH, INITIAL, State, Trigger, transition
from ._tracks import MediaTracks

_U32 = struct.Struct(">I")
SERVER_CHUNK_SIZE = 4096
SERVER_WINDOW = 2_500_000
PUBLISH_CODES = ("BadName", "Denied")
_AMF3_REFUSAL = "AMF3 object encoding is not supported; connect with AMF0 (objectEncoding 0)"
_DEFAULTS = RtmpSection()


class RtmpConnection:
    def __init__(
        self,
        *,
        max_message_size: int = _DEFAULTS.max_message_size,
        max_pending_message_size: int = _DEFAULTS.max_pending_message_size,
        max_chunk_streams: int = _DEFAULTS.max_chunk_streams,
        handshake_random: bytes | None = None,
    ) -> None:
        self._max_message_size = max_message_size
        self._reader = ChunkReader(
            max_message_size=min(max_pending_message_size, max_message_size),
            max_chunk_streams=max_chunk_streams,
        )
        self._writer = ReplyWriter()
        self._handshake = bytearray()
        self._handshake_random = handshake_random
        self._outbox = bytearray()
        self._events: deque[Event] = deque()
        self._state = INITIAL
        self._eof = False
        self._closed: Closed | None = None
        self._received = 0
        self._acked = 0
        self._peer_window = 0
        self._app = ""
        self._stream_key = ""
        self._stream_id = 0
        self._next_stream_id = 1
        self._tracks = MediaTracks()

    @classmethod
    def from_config(cls, config: RtmpSection) -> RtmpConnection:
        return cls(
            max_message_size=config.max_message_size,
            max_pending_message_size=config.max_pending_message_size,
            max_chunk_streams=config.max_chunk_streams,
        )

    @property
    def state(self) -> State:
        return self._state

    @property
    def buffered(self) -> int:
        """Bytes of peer input held (unparsed, or in unfinished messages)."""
        return len(self._handshake) + self._reader.buffered

    @property
    def wanted(self) -> int:
        """A lower bound on the bytes the peer must still send to finish the message it
        is in the middle of; 0 between messages and during the handshake."""
        if self._state in HANDSHAKING:
            return 0
        return self._reader.wanted

    # ------------------------------------------------------------------ public API

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Hand over bytes from the socket; b"" means the peer closed its side."""
        if self._eof or self._state is State.CLOSED:
            return
        if not data:
            self._eof = True
            return
        self._received += len(data)
        self._acknowledge()
        if self._state in HANDSHAKING:
            self._handshake += data
        else:
            self._reader.feed(data)

    def next_event(self) -> Event | Literal[Sentinel.NEED_DATA, Sentinel.PAUSED]:
        """The next event, NEED_DATA, or PAUSED while a publish decision is pending.

        Raises RtmpProtocolError on malformed input.
        """
        while not self._events:
            if self._closed is not None:
                return self._closed
            if self._state is State.PUBLISH_PENDING:
                # Nothing after `publish` may be interpreted before the owner decides.
                return PAUSED
            try:
                progressed = self._advance()
            except RtmpProtocolError:
                self._go(Trigger.CLOSE)
                self._closed = Closed("protocol error")
                raise
            if not progressed:
                if not self._eof:
                    self._acknowledge()
                    return NEED_DATA
                self._close("peer closed the connection")
        return self._events.popleft()

    def data_to_send(self) -> bytes:
        """Everything queued for the client since the last call."""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def accept_publish(self) -> None:
        if self._state is not State.PUBLISH_PENDING:
            raise RuntimeError(f"no publish is pending (state {self._state.name})")
        self._go(Trigger.ACCEPT)
        self._reader.max_message_size = self._max_message_size
        self._outbox += self._writer.user_control(USER_STREAM_BEGIN, _U32.pack(self._stream_id))
        self._outbox += self._writer.on_status(
            self._stream_id,
            "status",
            "NetStream.Publish.Start",
            f"{self._stream_key} is now published.",
        )

    def reject_publish(self, code: str, description: str) -> None:
        """Refuse the pending publish with NetStream.Publish.<code>, then close."""
        if self._state is not State.PUBLISH_PENDING:
            raise RuntimeError(f"no publish is pending (state {self._state.name})")
        if code not in PUBLISH_CODES:
            raise ValueError(f"publish refusal code must be one of {PUBLISH_CODES}")
        self._outbox += self._writer.on_status(
            self._stream_id, "error", f"NetStream.Publish.{code}", description
        )
        self._close(f"publish refused: {code}: {description}")

    # ------------------------------------------------------------------ internals

    def _go(self, trigger: Trigger) -> None:
        """The one place the state changes: as `_state.TRANSITIONS` says, or
        RtmpProtocolError for a move it does not list."""
        self._state = transition(self._state, trigger)

    def _acknowledge(self) -> None:
        if self._peer_window and self._received - self._acked >= self._peer_window:
            self._acked = self._received
            self._outbox += self._writer.acknowledgement(self._received)

    def _close(self, reason: str) -> None:
        if self._state in IN_PUBLISH:
            self._events.append(Unpublished(self._stream_key, reason))
        self._go(Trigger.CLOSE)
        self._closed = Closed(reason)
        self._events.append(self._closed)

    def _advance(self) -> bool:
        """Make one step of progress on buffered input; False when it needs more bytes."""
        if self._state is State.HANDSHAKE:
            return self._read_c0c1()
        if self._state is State.HANDSHAKE_ACK:
            return self._read_c2()
        message = self._reader.next_message()
        if message is None:
            return False
        self._dispatch(message)
        return True

    def _read_c0c1(self) -> bool:
        if len(self._handshake) < 1 + PACKET_SIZE:
            return False
        result = server_handshake(
            bytes(self._handshake[: 1 + PACKET_SIZE]), random_bytes=self._handshake_random
        )
        del self._handshake[: 1 + PACKET_SIZE]
        self._outbox += result.reply
        self._go(Trigger.C0C1)
        return True

    def _read_c2(self) -> bool:
        # C2 should echo S1; encoders get it wrong often enough that nobody checks.
        if len(self._handshake) < PACKET_SIZE:
            return False
        rest = bytes(self._handshake[PACKET_SIZE:])
        self._handshake = bytearray()
        self._reader.feed(rest)
        self._go(Trigger.C2)
        return True

    def _dispatch(self, message: Message) -> None:
        type_id = message.type_id
        if type_id in (AUDIO, VIDEO):
            if self._state is State.PUBLISHING and message.stream_id == self._stream_id:
                self._media(message)
        elif type_id == AMF0_COMMAND:
            self._command(message)
        elif type_id == AMF0_DATA:
            self._data(message.payload)
        elif type_id in (AMF3_COMMAND, AMF3_DATA, AMF3_SHARED_OBJECT):
            self._refuse_connection("NetConnection.Connect.Rejected", _AMF3_REFUSAL)
        elif type_id == AGGREGATE:
            for part in split_aggregate(message):
                # Only media and data may nest; anything else would let a peer recurse.
                if self._state is not State.CLOSED and part.type_id in (AUDIO, VIDEO, AMF0_DATA):
                    self._dispatch(part)
        else:
            self._control(type_id, message.payload)

    def _control(self, type_id: int, payload: bytes) -> None:
        if type_id == SET_CHUNK_SIZE:
            self._reader.set_chunk_size(_u32(payload) & 0x7FFFFFFF)
        elif type_id == ABORT:
            self._reader.abort(_u32(payload))
        elif type_id == WINDOW_ACK_SIZE:
            self._peer_window = max(_u32(payload), 1)
        elif type_id == USER_CONTROL:
            if len(payload) < 2:
                raise RtmpProtocolError("user control message without an event type")
            event = int.from_bytes(payload[:2], "big")
            if event == USER_PING_REQUEST:
                self._outbox += self._writer.user_control(USER_PING_RESPONSE, payload[2:6])
        # Acknowledgement, Set Peer Bandwidth, shared objects and unknown types need no
        # answer from a server that only receives.

    def _refuse_connection(self, code: str, description: str) -> None:
        self._outbox += self._writer.command(
            "_error", 0, None, {"level": "error", "code": code, "description": description}
        )
        self._close(description)

    # ------------------------------------------------------------ commands and data

    def _command(self, message: Message) -> None:
        try:
            values = _amf0.decode_all(message.payload)
        except _amf0.Amf3NotSupported:
            self._refuse_connection("NetConnection.Connect.Rejected", _AMF3_REFUSAL)
            return
        if len(values) < 2 or not isinstance(values[0], str):
            raise RtmpProtocolError("command message without a name and transaction id")
        name, transaction, args = values[0], values[1], values[2:]
        txn = transaction if isinstance(transaction, float) else 0.0
        if self._state is State.AWAIT_CONNECT:
            if name != "connect":
                raise RtmpProtocolError(f"{name!r} before connect")
            self._connect(txn, args)
        elif name in ("releaseStream", "FCPublish"):
            self._outbox += self._writer.command("_result", txn, None, _amf0.UNDEFINED)
        elif name == "createStream":
            self._stream_id = self._next_stream_id
            self._next_stream_id += 1
            self._outbox += self._writer.command("_result", txn, None, float(self._stream_id))
        elif name == "publish":
            self._publish(message.stream_id, args)
        elif name in ("FCUnpublish", "deleteStream", "closeStream"):
            self._unpublish(name)
            if name == "FCUnpublish":
                self._outbox += self._writer.command("_result", txn, None, _amf0.UNDEFINED)
        elif txn:
            # Answer anything else that expects an answer, so the client does not hang.
            self._outbox += self._writer.command(
                "_error",
                txn,
                None,
                {
                    "level": "error",
                    "code": "NetConnection.Call.Failed",
                    "description": f"{name!r} is not supported by this ingest server",
                },
            )

    def _connect(self, txn: float, args: list[AmfValue]) -> None:
        info = args[0] if args and isinstance(args[0], dict) else {}
        if info.get("objectEncoding") == 3.0:
            self._refuse_connection("NetConnection.Connect.Rejected", _AMF3_REFUSAL)
            return
        self._app = _text(info.get("app")).strip("/")
        self._outbox += self._writer.window_ack_size(SERVER_WINDOW)
        self._outbox += self._writer.set_peer_bandwidth(SERVER_WINDOW)
        self._outbox += self._writer.set_chunk_size(SERVER_CHUNK_SIZE)
        self._outbox += self._writer.command(
            "_result",
            txn,
            {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0},
            {
                "level": "status",
                "code": "NetConnection.Connect.Success",
                "description": "Connection succeeded.",
                "objectEncoding": 0.0,
            },
        )
        self._go(Trigger.CONNECT)
        self._events.append(
            Connected(self._app, _text(info.get("tcUrl")), _text(info.get("flashVer")))
        )

    def _publish(self, stream_id: int, args: list[AmfValue]) -> None:
        self._go(Trigger.PUBLISH)  # a second one: "publish while PUBLISHING"
        name = _text(args[1]) if len(args) > 1 else ""
        kind = _text(args[2]) if len(args) > 2 else "live"
        key, _, query = name.partition("?")
        self._stream_id = stream_id
        self._stream_key = key
        self._tracks = MediaTracks()
        self._events.append(PublishRequested(self._app, key, query, kind or "live"))

    def _unpublish(self, reason: str) -> None:
        if self._state in IN_PUBLISH:
            self._events.append(Unpublished(self._stream_key, reason))
            self._go(Trigger.UNPUBLISH)

    def _data(self, payload: bytes) -> None:
        try:
            values = _amf0.decode_all(payload)
        except _amf0.Amf3NotSupported:
            return  # data messages are informational; nothing to refuse
        if values and values[0] == "@setDataFrame":
            values = values[1:]
        if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
            self._events.append(Metadata(values[1]))

    # --------------------------------------------------------------------- media

    def _media(self, message: Message) -> None:
        try:
            if message.type_id == VIDEO:
                self._events += self._tracks.video(message.timestamp, message.payload)
            else:
                self._events += self._tracks.audio(message.timestamp, message.payload)
        except _media.UnsupportedMedia as refusal:
            self._outbox += self._writer.on_status(
                self._stream_id, "error", "NetStream.Publish.Denied", str(refusal)
            )
            self._close(str(refusal))


def _u32(payload: bytes) -> int:
    if len(payload) < 4:
        raise RtmpProtocolError("control message shorter than 4 bytes")
    return int(_U32.unpack_from(payload)[0])


def _text(value: AmfValue) -> str:
    return value if isinstance(value, str) else ""
