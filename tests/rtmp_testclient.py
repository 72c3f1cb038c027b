"""A scripted RTMP publisher for driving the core with bytes, and a reader for its replies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge_node.ingest.rtmp import AmfValue, Event, RtmpConnection, Sentinel
from edge_node.ingest.rtmp._amf0 import decode_all, encode
from edge_node.ingest.rtmp._chunks import ChunkReader, ChunkWriter
from edge_node.ingest.rtmp._handshake import PACKET_SIZE

CORPUS = Path(__file__).parent / "edge_node" / "ingest" / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.bin"))
HANDSHAKE_REPLY = 1 + 2 * PACKET_SIZE

# A real avcC record (x264, 320x240 High) and AAC-LC 44.1 kHz stereo ASC.
AVCC_320x240 = bytes.fromhex(
    "01640014ffe1001967640014acd94141fb0110000003001000000303c0f14299600001000668ebe3cb22c0"
)
ASC_44100_STEREO = bytes.fromhex("1210")


def simple_c0c1() -> bytes:
    return b"\x03" + bytes(8) + os.urandom(PACKET_SIZE - 8)


@dataclass
class Reply:
    type_id: int
    stream_id: int
    payload: bytes

    @property
    def values(self) -> list[AmfValue]:
        return decode_all(self.payload)


class Publisher:
    """Builds the byte stream an encoder would send."""

    def __init__(self) -> None:
        self.writer = ChunkWriter()

    def message(
        self, type_id: int, payload: bytes, *, csid: int = 3, stream_id: int = 0, ts: int = 0
    ) -> bytes:
        return self.writer.write(csid, type_id, stream_id, ts, payload)

    def command(self, name: str, txn: float, *args: object, stream_id: int = 0) -> bytes:
        return self.message(20, encode(name, txn, *args), stream_id=stream_id)  # type: ignore[arg-type]

    def set_chunk_size(self, size: int) -> bytes:
        data = self.message(1, size.to_bytes(4, "big"), csid=2)
        self.writer.chunk_size = size
        return data

    def video(self, body: bytes, ts: int, *, stream_id: int = 1) -> bytes:
        return self.message(9, body, csid=6, stream_id=stream_id, ts=ts)

    def audio(self, body: bytes, ts: int, *, stream_id: int = 1) -> bytes:
        return self.message(8, body, csid=4, stream_id=stream_id, ts=ts)

    def opening(self, key: str = "KEY", app: str = "live") -> bytes:
        """Handshake, connect, createStream and publish, as ffmpeg sends them."""
        return simple_c0c1() + self.after_c0c1(key, app)

    def after_c0c1(self, key: str = "KEY", app: str = "live") -> bytes:
        """The opening from C2 on."""
        return (
            bytes(PACKET_SIZE)
            + self.set_chunk_size(4096)
            + self.command("connect", 1, {"app": app, "tcUrl": f"rtmp://h/{app}"})
            + self.command("releaseStream", 2, None, key)
            + self.command("FCPublish", 3, None, key)
            + self.command("createStream", 4, None)
            + self.command("publish", 5, None, key, "live", stream_id=1)
        )


def avc_config_body() -> bytes:
    return b"\x17\x00\x00\x00\x00" + AVCC_320x240


def avc_frame_body(
    keyframe: bool, cto: int = 0, nalus: bytes = b"\x00\x00\x00\x02\x65\x88"
) -> bytes:
    return bytes((0x17 if keyframe else 0x27, 1)) + cto.to_bytes(3, "big", signed=True) + nalus


def aac_config_body() -> bytes:
    return b"\xaf\x00" + ASC_44100_STEREO


def aac_frame_body(frame: bytes = b"\x21\x10\x04") -> bytes:
    return b"\xaf\x01" + frame


def replies(data: bytes, *, skip_handshake: bool = True) -> list[Reply]:
    """Decode what the server wrote (after S0/S1/S2), following its Set Chunk Size."""
    reader = ChunkReader(max_message_size=1 << 20, max_chunk_streams=16)
    if not skip_handshake:
        reader.set_chunk_size(4096)  # what the server announced in its connect reply
    reader.feed(data[HANDSHAKE_REPLY:] if skip_handshake else data)
    out = []
    while (message := reader.next_message()) is not None:
        if message.type_id == 1:
            reader.set_chunk_size(int.from_bytes(message.payload, "big"))
        out.append(Reply(message.type_id, message.stream_id, message.payload))
    return out


def statuses(data: bytes, *, skip_handshake: bool = True) -> list[str]:
    """The `code` of every onStatus / _result / _error info object in the server's output."""
    codes = []
    for reply in replies(data, skip_handshake=skip_handshake):
        if reply.type_id != 20:
            continue
        for value in reply.values[2:]:
            if isinstance(value, dict) and isinstance(value.get("code"), str):
                codes.append(str(value["code"]))
    return codes


def drain(conn: RtmpConnection) -> list[Event]:
    """Every event up to NEED_DATA, PAUSED or Closed."""
    events: list[Event] = []
    while not isinstance(event := conn.next_event(), Sentinel):
        events.append(event)
        if type(event).__name__ == "Closed":
            break
    return events
