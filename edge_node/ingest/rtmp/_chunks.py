"""RTMP chunk streams: reassembling messages from chunks and cutting messages into chunks.

A message travels on a chunk stream (csid) as one or more chunks. Each chunk's header
compresses against the previous one on the same csid (fmt 0 says everything, fmt 3 says
nothing), so the reader keeps per-csid state. That state is what a hostile peer would
inflate, so its size is bounded: by the number of chunk streams and by the bytes of
unfinished messages across all of them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._errors import RtmpProtocolError

DEFAULT_CHUNK_SIZE = 128
MAX_CHUNK_SIZE = 0x7FFFFFFF
EXTENDED_TIMESTAMP = 0xFFFFFF
TIMESTAMP_MOD = 1 << 32

_U32 = struct.Struct(">I")
# Pieces of a message shorter than this are gathered into one bytearray. The peer picks
# the chunk size, down to 1 byte, and a bytes object per 1-byte chunk would hold ~50
# bytes per byte of message: the limits on held bytes would be worth nothing.
_SMALL_PIECE = 1024


@dataclass(frozen=True, slots=True)
class Message:
    """One reassembled RTMP message; `timestamp` is the raw 32-bit wire value."""

    csid: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


class _ChunkStream:
    """What the previous header on one csid said, plus the message being reassembled."""

    __slots__ = (
        "delta",
        "extended",
        "filled",
        "length",
        "partial",
        "stream_id",
        "timestamp",
        "type_id",
    )

    def __init__(self) -> None:
        self.timestamp = 0
        self.delta = 0
        self.length = 0
        self.type_id = 0
        self.stream_id = 0
        self.extended = False
        # The chunks of the message being reassembled, and how many bytes they hold. Kept
        # as pieces and joined once: one large allocation per message, not three.
        self.partial: list[bytes | bytearray] | None = None
        self.filled = 0


class ChunkReader:
    """Bytes in, whole messages out. Raises `RtmpProtocolError` on malformed input."""

    def __init__(self, *, max_message_size: int, max_chunk_streams: int) -> None:
        # The owner may raise it as the peer earns trust (see `RtmpConnection`).
        self.max_message_size = max_message_size
        self._max_chunk_streams = max_chunk_streams
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self._streams: dict[int, _ChunkStream] = {}
        self._buffer = bytearray()
        self._pos = 0
        # The chunk stream of the last chunk consumed: the message a peer is most likely
        # still sending (see `wanted`).
        self._last: _ChunkStream | None = None
        # Declared sizes of the unfinished messages on all chunk streams together: the
        # most their reassembly buffers can grow to.
        self._reserved = 0

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    def set_chunk_size(self, size: int) -> None:
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise RtmpProtocolError(f"invalid chunk size {size}")
        self._chunk_size = size

    def abort(self, csid: int) -> None:
        """Drop the unfinished message on `csid` (the Abort control message)."""
        stream = self._streams.get(csid)
        if stream is not None and stream.partial is not None:
            self._reserved -= stream.length
            stream.partial = None

    @property
    def buffered(self) -> int:
        """Bytes held or reserved: unparsed input plus unfinished messages at full size."""
        return len(self._buffer) - self._pos + self._reserved

    @property
    def wanted(self) -> int:
        """A lower bound on the input still needed to finish the message in progress.

        0 between messages. Continuation chunks are counted at one header byte each, the
        least a chunk header can take, so the bound holds whatever the peer interleaves.
        """
        stream = self._last
        if stream is None or stream.partial is None:
            return 0
        remaining = stream.length - stream.filled
        chunks = -(-remaining // self._chunk_size)
        return max(remaining + chunks - (len(self._buffer) - self._pos), 0)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def next_message(self) -> Message | None:
        """The next complete message, or None when more bytes are needed."""
        while True:
            parsed = self._read_chunk()
            if parsed is None:
                return None
            if isinstance(parsed, Message):
                return parsed

    def _read_chunk(self) -> Message | bool | None:
        """Consume one chunk: a Message if it completed one, True if not, None if short."""
        end = len(self._buffer)
        basic = self._read_basic_header(end)
        if basic is None:
            return None
        fmt, csid, pos = basic
        stream = self._stream_for(csid, fmt)
        header = self._read_header(stream, fmt, pos, end)
        if header is None:
            return None
        pos, starts_message, timestamp, delta, length, type_id, stream_id, extended = header
        if starts_message and length > self.max_message_size:
            raise RtmpProtocolError(
                f"message of {length} bytes exceeds the limit of {self.max_message_size}"
            )
        have = 0 if starts_message or stream.partial is None else stream.filled
        take = min(self._chunk_size, length - have)
        if pos + take > end:
            return None
        if starts_message and stream.partial is not None:
            # A new header mid-message: the old message was silently abandoned by the peer.
            self._reserved -= stream.length
            stream.partial = None
        if starts_message and take < length and self._reserved + length > self.max_message_size:
            raise RtmpProtocolError("too many bytes held in unfinished messages")
        stream.timestamp, stream.delta, stream.extended = timestamp, delta, extended
        stream.length, stream.type_id, stream.stream_id = length, type_id, stream_id
        self._last = stream
        # Copies are taken through a view: slicing the bytearray itself would copy twice.
        with memoryview(self._buffer) as view:
            if take == length:
                self._pos = pos + take
                return Message(csid, type_id, stream_id, timestamp, bytes(view[pos : pos + take]))
            if stream.partial is None:
                stream.partial = []
                stream.filled = 0
                self._reserved += length
            self._pos = pos + take
            self._fill(stream, view, pos, take)
            if csid < 64 and not extended:
                self._fill_continuations(stream, view, 0xC0 | csid)
        if stream.filled < length:
            return True
        payload = b"".join(stream.partial)
        stream.partial = None
        self._reserved -= length
        return Message(csid, type_id, stream_id, timestamp, payload)

    def _fill(self, stream: _ChunkStream, view: memoryview, pos: int, take: int) -> None:
        partial = stream.partial
        assert partial is not None
        piece = view[pos : pos + take]
        if take >= _SMALL_PIECE:
            partial.append(bytes(piece))
        elif partial and isinstance(partial[-1], bytearray):
            partial[-1] += piece
        else:
            partial.append(bytearray(piece))
        stream.filled += take

    def _fill_continuations(self, stream: _ChunkStream, view: memoryview, marker: int) -> None:
        """Consume the fmt 3 chunks that follow back to back on the same chunk stream.

        Most of a video frame arrives this way; taking it here skips the general header
        path for each chunk, which is where the parser spends its time.
        """
        buf, end, size, length = self._buffer, len(self._buffer), self._chunk_size, stream.length
        while stream.filled < length:
            pos = self._pos
            take = min(size, length - stream.filled)
            if pos + 1 + take > end or buf[pos] != marker:
                return
            self._pos = pos + 1 + take
            self._fill(stream, view, pos + 1, take)

    def _read_basic_header(self, end: int) -> tuple[int, int, int] | None:
        """(fmt, chunk stream id, position after it), or None if more bytes are needed."""
        buf, pos = self._buffer, self._pos
        if pos >= end:
            return None
        fmt, csid = buf[pos] >> 6, buf[pos] & 0x3F
        if csid == 0:
            if pos + 2 > end:
                return None
            return fmt, 64 + buf[pos + 1], pos + 2
        if csid == 1:
            if pos + 3 > end:
                return None
            return fmt, 64 + buf[pos + 1] + (buf[pos + 2] << 8), pos + 3
        return fmt, csid, pos + 1

    def _stream_for(self, csid: int, fmt: int) -> _ChunkStream:
        stream = self._streams.get(csid)
        if stream is None:
            if fmt != 0:
                raise RtmpProtocolError(f"chunk stream {csid} starts without a full header")
            if len(self._streams) >= self._max_chunk_streams:
                raise RtmpProtocolError(f"more than {self._max_chunk_streams} chunk streams opened")
            stream = _ChunkStream()
            self._streams[csid] = stream
        return stream

    def _read_header(
        self, stream: _ChunkStream, fmt: int, pos: int, end: int
    ) -> tuple[int, bool, int, int, int, int, int, bool] | None:
        """Decode the message header after the basic header; None if more bytes are needed.

        Returns (position after header, starts a new message, timestamp, delta, length,
        type id, message stream id, extended timestamp in use).
        """
        buf = self._buffer
        if fmt == 3:
            starts = stream.partial is None
            extended = stream.extended
            timestamp = stream.timestamp
            if extended:
                if pos + 4 > end:
                    return None
                ext = _U32.unpack_from(buf, pos)[0]
                # Writers disagree on repeating the extended field in continuation
                # chunks; a continuation only carries it when it matches.
                if starts or ext == stream.delta:
                    pos += 4
            if starts:
                timestamp = (stream.timestamp + stream.delta) % TIMESTAMP_MOD
            return (
                pos,
                starts,
                timestamp,
                stream.delta,
                stream.length,
                stream.type_id,
                stream.stream_id,
                extended,
            )
        size = (11, 7, 3)[fmt]
        if pos + size > end:
            return None
        field = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
        length, type_id, stream_id = stream.length, stream.type_id, stream.stream_id
        if fmt <= 1:
            length = (buf[pos + 3] << 16) | (buf[pos + 4] << 8) | buf[pos + 5]
            type_id = buf[pos + 6]
        if fmt == 0:
            stream_id = int.from_bytes(buf[pos + 7 : pos + 11], "little")
        pos += size
        extended = field == EXTENDED_TIMESTAMP
        if extended:
            if pos + 4 > end:
                return None
            field = _U32.unpack_from(buf, pos)[0]
            pos += 4
        if stream.partial is not None and fmt != 0:
            raise RtmpProtocolError("a compressed chunk header interrupts an unfinished message")
        timestamp = field if fmt == 0 else (stream.timestamp + field) % TIMESTAMP_MOD
        return pos, True, timestamp, field, length, type_id, stream_id, extended


class ChunkWriter:
    """Cuts outgoing messages into chunks of our announced size."""

    def __init__(self) -> None:
        self.chunk_size = DEFAULT_CHUNK_SIZE

    def write(
        self, csid: int, type_id: int, stream_id: int, timestamp: int, payload: bytes
    ) -> bytes:
        if not 2 <= csid <= 63:
            raise ValueError("the server only writes on chunk streams 2..63")
        timestamp %= TIMESTAMP_MOD
        extended = timestamp >= EXTENDED_TIMESTAMP
        field = EXTENDED_TIMESTAMP if extended else timestamp
        ext = _U32.pack(timestamp) if extended else b""
        out = bytearray()
        out.append(csid)
        out += field.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes((type_id,))
        out += stream_id.to_bytes(4, "little") + ext
        size = self.chunk_size
        out += payload[:size]
        for offset in range(size, len(payload), size):
            out.append(0xC0 | csid)
            out += ext
            out += payload[offset : offset + size]
        return bytes(out)
