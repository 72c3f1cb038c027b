"""The WHIP offer check: what it refuses and with which status, and that nothing it is
given makes it raise anything but `OfferRefused`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.ingest.whip.sdp import MAX_OFFER_BYTES, OfferRefused, check_offer

OBS = (Path(__file__).parent / "corpus" / "whip_offer_obs.sdp").read_bytes()


def refused(body: bytes) -> tuple[int, str]:
    with pytest.raises(OfferRefused) as info:
        check_offer(body)
    return info.value.status, info.value.reason


def test_obs_offer_is_taken() -> None:
    offer = check_offer(OBS)
    assert [m.kind for m in offer.media] == ["audio", "video"]
    assert offer.has_audio


def test_video_only_and_lf_line_ends_are_taken() -> None:
    text = OBS.replace(b"\r\n", b"\n")
    video_only = text[: text.index(b"m=audio")] + text[text.index(b"m=video") :]
    assert not check_offer(video_only).has_audio


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "v=0"),
        (b"\xff\xfe", 400, "UTF-8"),
        (b"v=0\r\nhello", 400, "malformed"),
        (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", 400, "no media"),
        (b"v=0\r\n" + b"a=x\r\n" * 2000, 400, "lines"),
        (b"v=0\r\n" * (MAX_OFFER_BYTES // 5 + 1), 413, "larger"),
        (OBS.replace(b"H264", b"VP8"), 415, "VP8"),
        (OBS.replace(b"H264", b"AV1"), 415, "AV1"),
        (OBS.replace(b"opus", b"PCMU"), 415, "Opus"),
        (OBS.replace(b"packetization-mode=1", b"packetization-mode=0"), 415, "packetization"),
        (OBS.replace(b"a=fingerprint", b"a=fingerprinx"), 400, "fingerprint"),
        (OBS.replace(b"a=ice-ufrag", b"a=ice-ufraq"), 400, "ICE"),
        (OBS.replace(b"UDP/TLS/RTP/SAVPF 96", b"RTP/AVP 96"), 400, "SAVPF"),
        (OBS[: OBS.index(b"m=video")], 415, "no video"),
        (OBS + OBS[OBS.index(b"m=video") :], 400, "one video"),
    ],
)
def test_refusals(body: bytes, status: int, words: str) -> None:
    got_status, reason = refused(body)
    assert got_status == status
    assert words.lower() in reason.lower()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape(body: bytes) -> None:
    with contextlib.suppress(OfferRefused):
        check_offer(body)


_LINES = OBS.decode().split("\r\n")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_LINES), st.text(max_size=80)),
        max_size=60,
    ),
)
def test_shuffled_and_mangled_offers_never_escape(lines: list[str]) -> None:
    with contextlib.suppress(OfferRefused):
        check_offer("\r\n".join(["v=0", *lines]).encode("utf-8", "surrogatepass"))
