import pytest

from edge_node.ingest.rtmp import RtmpProtocolError
from edge_node.ingest.rtmp._handshake import (
    PACKET_SIZE,
    find_client_digest,
    make_digest_c1,
    server_handshake,
    verify_server_reply,
)

NOISE = bytes(range(256)) * 12


def test_simple_handshake_echoes_c1_as_s2() -> None:
    c1 = bytes(8) + bytes(reversed(NOISE[: PACKET_SIZE - 8]))
    result = server_handshake(b"\x03" + c1, random_bytes=NOISE)
    assert not result.digest
    assert result.reply[0] == 3
    assert len(result.reply) == 1 + 2 * PACKET_SIZE
    assert result.reply[1 + PACKET_SIZE :] == c1


@pytest.mark.parametrize("scheme", [0, 1])
def test_digest_handshake_answers_with_verifiable_digests(scheme: int) -> None:
    c1 = make_digest_c1(scheme=scheme)
    assert find_client_digest(c1) is not None
    result = server_handshake(b"\x03" + c1)
    assert result.digest
    assert verify_server_reply(c1, result.reply)


def test_version_bytes_without_a_valid_digest_fall_back_to_simple() -> None:
    c1 = bytes(4) + b"\x09\x00\x7c\x02" + NOISE[: PACKET_SIZE - 8]
    result = server_handshake(b"\x03" + c1, random_bytes=NOISE)
    assert not result.digest
    assert result.reply[1 + PACKET_SIZE :] == c1


@pytest.mark.parametrize("version", [0, 6, 8, 255])
def test_other_versions_are_refused(version: int) -> None:
    with pytest.raises(RtmpProtocolError, match="version"):
        server_handshake(bytes((version,)) + bytes(PACKET_SIZE))
