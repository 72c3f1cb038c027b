"""The connection state machine, driven with bytes in and checked with bytes out."""

import random

import pytest
from enhanced_media import HVCC_320x240
from rtmp_testclient import (
    CORPUS_FILES,
    HANDSHAKE_REPLY,
    Publisher,
    aac_config_body,
    aac_frame_body,
    avc_config_body,
    avc_frame_body,
    drain,
    replies,
    simple_c0c1,
    statuses,
)

from edge_node.ingest.rtmp import (
    NEED_DATA,
    PAUSED,
    Closed,
    CodecConfig,
    Connected,
    Discontinuity,
    MediaPacket,
    Metadata,
    PublishRequested,
    RtmpConnection,
    RtmpProtocolError,
    State,
    Unpublished,
)
from edge_node.ingest.rtmp._amf0 import encode
from edge_node.ingest.rtmp._handshake import PACKET_SIZE, make_digest_c1, verify_server_reply
from shared.config import RtmpSection


def published(key: str = "KEY") -> tuple[RtmpConnection, Publisher, bytes]:
    conn = RtmpConnection()
    pub = Publisher()
    conn.receive_data(pub.opening(key))
    events = drain(conn)
    assert isinstance(events[-1], PublishRequested)
    conn.accept_publish()
    return conn, pub, conn.data_to_send()


def test_handshake_then_nothing_until_c2() -> None:
    conn = RtmpConnection()
    c0c1 = simple_c0c1()
    conn.receive_data(c0c1[:1000])
    assert conn.next_event() is NEED_DATA
    assert conn.data_to_send() == b""
    conn.receive_data(c0c1[1000:])
    assert conn.next_event() is NEED_DATA
    reply = conn.data_to_send()
    assert len(reply) == HANDSHAKE_REPLY and reply[-PACKET_SIZE:] == c0c1[1:]
    assert conn.state is State.HANDSHAKE_ACK
    conn.receive_data(bytes(PACKET_SIZE))
    assert conn.next_event() is NEED_DATA
    assert conn.state is State.AWAIT_CONNECT


def test_digest_clients_get_a_digest_reply() -> None:
    conn = RtmpConnection()
    c1 = make_digest_c1()
    conn.receive_data(b"\x03" + c1)
    assert conn.next_event() is NEED_DATA
    assert verify_server_reply(c1, conn.data_to_send())


def test_full_publish_exchange() -> None:
    conn = RtmpConnection()
    pub = Publisher()
    conn.receive_data(pub.opening("secret?token=abc", app="live/"))
    events = drain(conn)
    assert events == [
        Connected("live", "rtmp://h/live/", ""),
        PublishRequested("live", "secret", "token=abc", "live"),
    ]
    out = conn.data_to_send()
    types = [r.type_id for r in replies(out)]
    assert types[:3] == [5, 6, 1]  # window ack size, peer bandwidth, chunk size
    assert statuses(out) == ["NetConnection.Connect.Success"]
    created = [r.values for r in replies(out) if r.type_id == 20][-1]
    assert created == ["_result", 4.0, None, 1.0]
    conn.accept_publish()
    out = conn.data_to_send()
    assert replies(out, skip_handshake=False)[0].payload == b"\x00\x00\x00\x00\x00\x01"
    assert statuses(out, skip_handshake=False) == ["NetStream.Publish.Start"]
    assert conn.state is State.PUBLISHING


def test_media_events_with_rebased_timestamps() -> None:
    conn, pub, _ = published()
    meta = encode("@setDataFrame", "onMetaData", {"width": 320.0})
    conn.receive_data(
        pub.message(18, meta, csid=4, stream_id=1)
        + pub.video(avc_config_body(), 5000)
        + pub.audio(aac_config_body(), 5000)
        + pub.video(avc_frame_body(True, cto=40), 5000)
        + pub.audio(aac_frame_body(), 5010)
        + pub.video(avc_frame_body(False), 5033)
    )
    events = drain(conn)
    assert events[0] == Metadata({"width": 320.0})
    assert events[1] == CodecConfig("video", "h264", avc_config_body()[5:], 320, 240)
    assert events[2] == CodecConfig("audio", "aac", b"\x12\x10", sample_rate=44100, channels=2)
    assert events[3:] == [
        MediaPacket("video", 0, 40, True, b"\x00\x00\x00\x02\x65\x88"),
        MediaPacket("audio", 10, 10, True, b"\x21\x10\x04"),
        MediaPacket("video", 33, 33, False, b"\x00\x00\x00\x02\x65\x88"),
    ]


def test_timestamp_jump_emits_a_discontinuity() -> None:
    conn, pub, _ = published()
    conn.receive_data(
        pub.video(avc_frame_body(True), 100)
        + pub.video(avc_frame_body(False), 133)
        + pub.video(avc_frame_body(True), 900_000)
    )
    events = drain(conn)
    assert isinstance(events[2], Discontinuity)
    assert isinstance(events[3], MediaPacket) and events[3].dts == 34


def test_nothing_after_publish_is_read_until_the_owner_decides() -> None:
    conn = RtmpConnection()
    pub = Publisher()
    conn.receive_data(pub.opening() + pub.video(avc_frame_body(True), 0))
    assert [type(e) for e in drain(conn)] == [Connected, PublishRequested]
    assert conn.next_event() is PAUSED
    conn.accept_publish()
    assert [type(e) for e in drain(conn)] == [MediaPacket]


def test_reject_publish_answers_bad_name_and_closes() -> None:
    conn = RtmpConnection()
    conn.receive_data(Publisher().opening("wrong"))
    drain(conn)
    conn.data_to_send()
    conn.reject_publish("BadName", "unknown stream key")
    assert statuses(conn.data_to_send(), skip_handshake=False) == ["NetStream.Publish.BadName"]
    assert drain(conn) == [
        Unpublished("wrong", "publish refused: BadName: unknown stream key"),
        Closed("publish refused: BadName: unknown stream key"),
    ]
    assert conn.state is State.CLOSED
    with pytest.raises(RuntimeError):
        conn.accept_publish()


def test_unpublish_then_peer_close() -> None:
    conn, pub, _ = published()
    conn.receive_data(
        pub.command("FCUnpublish", 6, None, "KEY") + pub.command("deleteStream", 7, None, 1.0)
    )
    assert drain(conn) == [Unpublished("KEY", "FCUnpublish")]
    conn.receive_data(b"")
    assert drain(conn) == [Closed("peer closed the connection")]


def test_peer_close_while_publishing_unpublishes_first() -> None:
    conn, _, _ = published()
    conn.receive_data(b"")
    assert [type(e) for e in drain(conn)] == [Unpublished, Closed]


def test_ping_and_acknowledgements() -> None:
    conn, pub, _ = published()
    conn.receive_data(pub.message(5, (4096).to_bytes(4, "big"), csid=2))
    conn.receive_data(pub.message(4, b"\x00\x06\x00\x00\x12\x34", csid=2))
    conn.receive_data(pub.audio(aac_frame_body(bytes(5000)), 0))
    drain(conn)
    out = replies(conn.data_to_send(), skip_handshake=False)
    assert [(r.type_id, r.payload) for r in out if r.type_id == 4] == [
        (4, b"\x00\x07\x00\x00\x12\x34")
    ]
    assert [r.type_id for r in out if r.type_id == 3] == [3]


def test_amf3_connect_is_refused_clearly() -> None:
    conn = RtmpConnection()
    pub = Publisher()
    conn.receive_data(
        simple_c0c1()
        + bytes(PACKET_SIZE)
        + pub.command("connect", 1, {"app": "a", "objectEncoding": 3.0})
    )
    assert [type(e) for e in drain(conn)] == [Closed]
    assert statuses(conn.data_to_send()) == ["NetConnection.Connect.Rejected"]


def test_amf3_command_message_is_refused_clearly() -> None:
    conn, pub, _ = published()
    conn.receive_data(pub.message(17, b"\x00\x02\x00\x04play"))
    assert [type(e) for e in drain(conn)] == [Unpublished, Closed]
    assert statuses(conn.data_to_send(), skip_handshake=False) == ["NetConnection.Connect.Rejected"]


def test_vp9_is_refused_with_an_explanation() -> None:
    conn, pub, _ = published()
    conn.receive_data(pub.video(b"\x90vp09" + bytes(20), 0))
    events = drain(conn)
    assert [type(e) for e in events] == [Unpublished, Closed]
    assert "vp9" in events[-1].reason  # type: ignore[union-attr]
    assert statuses(conn.data_to_send(), skip_handshake=False) == ["NetStream.Publish.Denied"]


def test_enhanced_rtmp_hevc_is_taken() -> None:
    conn, pub, _ = published()
    conn.receive_data(pub.video(b"\x90hvc1" + HVCC_320x240, 0))
    conn.receive_data(pub.video(b"\x93hvc1\x00\x00\x00\x02\x26\x01", 0))
    events = drain(conn)
    assert events == [
        CodecConfig("video", "hevc", HVCC_320x240, 320, 240),
        MediaPacket("video", 0, 0, True, b"\x00\x00\x00\x02\x26\x01"),
    ]


def test_unknown_calls_get_an_error_not_silence() -> None:
    conn, pub, _ = published()
    conn.receive_data(pub.command("play", 9, None, "x"))
    assert drain(conn) == []
    assert statuses(conn.data_to_send(), skip_handshake=False) == ["NetConnection.Call.Failed"]


@pytest.mark.parametrize(
    "payload",
    [encode("publish", 1.0, None, "k"), encode(1.0), b"\x02\x00"],
)
def test_commands_before_connect_or_malformed_are_errors(payload: bytes) -> None:
    conn = RtmpConnection()
    conn.receive_data(simple_c0c1() + bytes(PACKET_SIZE) + Publisher().message(20, payload))
    with pytest.raises(RtmpProtocolError):
        drain(conn)
    assert conn.next_event() == Closed("protocol error")


def test_limits_come_from_config() -> None:
    conn = RtmpConnection.from_config(RtmpSection(max_message_size=1000, max_chunk_streams=4))
    pub = Publisher()
    conn.receive_data(pub.opening() + pub.video(bytes(2000), 0))
    drain(conn)
    conn.accept_publish()
    with pytest.raises(RtmpProtocolError, match="exceeds"):
        drain(conn)


def test_messages_are_small_until_a_publish_is_accepted() -> None:
    limits = RtmpSection(max_message_size=1 << 20, max_pending_message_size=4096)
    frame_body = avc_frame_body(True, nalus=bytes(100_000))
    pub = Publisher()
    early = RtmpConnection.from_config(limits)
    early.receive_data(
        simple_c0c1()
        + bytes(PACKET_SIZE)
        + pub.command("connect", 1, {"app": "live"})
        + pub.video(frame_body, 0)
    )
    with pytest.raises(RtmpProtocolError, match="exceeds the limit of 4096"):
        drain(early)

    pub = Publisher()
    late = RtmpConnection.from_config(limits)
    late.receive_data(pub.opening() + pub.video(frame_body, 0))
    assert isinstance(drain(late)[-1], PublishRequested)
    late.accept_publish()
    (frame,) = drain(late)
    assert isinstance(frame, MediaPacket) and len(frame.data) == 100_000


def test_aggregate_messages_are_unpacked() -> None:
    conn, pub, _ = published()
    tags = b""
    for stamp, body in ((1000, avc_frame_body(True)), (1033, avc_frame_body(False))):
        tag = (
            bytes([9])
            + len(body).to_bytes(3, "big")
            + stamp.to_bytes(3, "big")
            + b"\x00"
            + bytes(3)
        )
        tags += tag + body + (11 + len(body)).to_bytes(4, "big")
    conn.receive_data(pub.message(22, tags, csid=6, stream_id=1, ts=200))
    assert [(e.dts, e.keyframe) for e in drain(conn)] == [(0, True), (33, False)]  # type: ignore[union-attr]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_gives_the_same_events_at_any_split(path: object) -> None:
    data = path.read_bytes()  # type: ignore[attr-defined]
    whole = _replay([data])
    assert sum(isinstance(e, MediaPacket) for e in whole) >= 3
    assert {e.kind for e in whole if isinstance(e, CodecConfig)} == {"video", "audio"}
    rng = random.Random(path.name)  # type: ignore[attr-defined]
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.choice((1, 17, 500, 4096, 65536))
        pieces.append(data[pos : pos + step])
        pos += step
    assert _replay(pieces) == whole


def _replay(pieces: list[bytes]) -> list[object]:
    conn = RtmpConnection()
    events: list[object] = []
    for piece in pieces:
        conn.receive_data(piece)
        while batch := drain(conn):
            events += batch
            if isinstance(batch[-1], PublishRequested):
                conn.accept_publish()
    return events
