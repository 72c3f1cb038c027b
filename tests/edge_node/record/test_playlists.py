"""VOD playlist text from a manifest: pure, bytes out."""

from __future__ import annotations

import m3u8
import pytest

from edge_node.record.manifest import VodManifest, VodRendition, VodSegment
from edge_node.record.playlists import master_playlist, media_playlist

LIVE_MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360
360p/index.m3u8
"""


def _seg(msn: int, init: str = "init.mp4", discontinuity: bool = False) -> VodSegment:
    return VodSegment(msn, 2.0 if msn % 3 else 1.96667, init, discontinuity, 1000 + msn)


def test_media_playlist_lists_whole_segments_with_discontinuities() -> None:
    rendition = VodRendition(
        "720p",
        (_seg(4), _seg(5), _seg(6, "init-1.mp4", discontinuity=True), _seg(7, "init-1.mp4")),
        1280,
        720,
    )
    text = media_playlist(rendition)
    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA-SEQUENCE:4\n"
        '#EXT-X-MAP:URI="init.mp4"\n'
        "#EXTINF:2.00000,\n4.m4s\n"
        "#EXTINF:2.00000,\n5.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        '#EXT-X-MAP:URI="init-1.mp4"\n'
        "#EXTINF:1.96667,\n6.m4s\n"
        "#EXTINF:2.00000,\n7.m4s\n"
        "#EXT-X-ENDLIST\n"
    )
    parsed = m3u8.loads(text)
    assert parsed.is_endlist and parsed.playlist_type == "vod"
    assert [s.discontinuity for s in parsed.segments] == [False, False, True, False]


def test_a_discontinuity_on_the_first_segment_is_not_written() -> None:
    text = media_playlist(VodRendition("a", (_seg(0, discontinuity=True), _seg(1))))
    assert "#EXT-X-DISCONTINUITY" not in text


def test_a_rendition_without_segments_has_no_playlist() -> None:
    with pytest.raises(ValueError):
        media_playlist(VodRendition("a", ()))


def test_master_keeps_only_renditions_with_segments() -> None:
    manifest = VodManifest(
        vod_id="st_1",
        stream_id="st_1",
        channel="c",
        ended_at=1.0,
        master=LIVE_MASTER,
        renditions=(VodRendition("360p", (_seg(0),), 640, 360),),
    )
    text = master_playlist(manifest)
    parsed = m3u8.loads(text)
    assert [p.uri for p in parsed.playlists] == ["360p/index.m3u8"]
    assert "720p" not in text and text.startswith("#EXTM3U\n")


def test_the_top_rendition_is_the_tallest() -> None:
    low = VodRendition("low", (_seg(0),), 320, 180, 300_000)
    high = VodRendition("high", (_seg(0),), 1280, 720, 2_000_000)
    audio = VodRendition("audio", (_seg(0),))
    manifest = VodManifest("v", "v", "c", 0.0, LIVE_MASTER, (low, audio, high))
    assert manifest.top() == high
    assert VodManifest("v", "v", "c", 0.0, "", (audio,)).top() is None
    assert VodManifest.decode(manifest.encode()) == manifest
