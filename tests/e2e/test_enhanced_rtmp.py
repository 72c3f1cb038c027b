"""HEVC and AV1 over Enhanced RTMP (what OBS 29+ sends) on `glasscast up`: an H.264
ladder for every player, and the passthrough in the source codec listed with its exact
CODECS string."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import av
import httpx
import m3u8
import pytest
from browser.watch import played_codecs
from fleetlib import Fleet, wait_for

from edge_node.codecs import video_codec_string
from edge_node.package.cmaf.reader import decoder_config, walk

PUBLISHER = Path(__file__).parents[1] / "edge_node" / "ingest" / "pyav_publisher.py"
EAST_VIEWER = "127.1.0.7"  # inside ingest-east's prefixes
ENCODERS = {"hevc": "libx265", "av1": "libsvtav1"}
SAMPLE_ENTRIES = {"hevc": b"hvc1", "av1": b"av01"}
DECODERS = {"hevc": "hevc", "av1": "libdav1d"}


def _get(url: str) -> bytes:
    answer = httpx.get(url, timeout=15)
    answer.raise_for_status()
    return answer.content


def _first_segment(url: str, tmp: Path) -> Path:
    """Init segment + the first complete media segment of a rendition, as one file."""

    def complete() -> m3u8.M3U8 | None:
        playlist = m3u8.loads(_get(url).decode(), uri=url)
        done = [s for s in playlist.segments if s.duration is not None and s.uri]
        return playlist if done else None

    playlist = wait_for(complete, 30, f"a complete segment in {url}")
    segment = next(s for s in playlist.segments if s.duration is not None and s.uri)
    path = tmp / f"{abs(hash(url))}.mp4"
    path.write_bytes(
        _get(urljoin(url, playlist.segment_map[0].uri)) + _get(urljoin(url, segment.uri))
    )
    return path


def _decode(path: Path) -> tuple[str, tuple[int, int]]:
    """The decoder PyAV picked and the picture size; the whole segment must decode."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        # A 2 s segment at 25 fps; the first may start late, never with nothing.
        assert len(frames) >= 25, f"{path.name}: {len(frames)} frames"
        return stream.codec_context.name, (frames[0].width, frames[0].height)


def _source_record(path: Path, codec: str) -> bytes:
    """The decoder configuration record in a segment's init, checking its sample entry."""
    # stsd: version/flags, entry_count, then the sample entry (the audio's is mp4a).
    entries = [bytes(b.payload[8:]) for _, b in walk(path.read_bytes()) if b.kind == b"stsd"]
    (video,) = [e for e in entries if e[4:8] != b"mp4a"]
    entry, record = decoder_config(video)
    assert entry == SAMPLE_ENTRIES[codec]
    return record


@pytest.fixture(scope="module", params=["hevc", "av1"])
def pushed(request: pytest.FixtureRequest, fleet: Fleet) -> Iterator[tuple[str, str]]:
    """(codec, the origin's master playlist URL) while an Enhanced RTMP push runs."""
    codec: str = request.param
    channel = f"{codec}-push"
    key = fleet.create_channel(channel)
    url = f"{fleet.node('ingest-east')['rtmp']}/{key}"
    # 640x480: the ladder's 360p and 160p in H.264 beside the 480p source. Real time,
    # long enough for the tests below; killed when they are done.
    pusher = subprocess.Popen(
        [sys.executable, str(PUBLISHER), url, str(25 * 120), ENCODERS[codec], "640x480"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: fleet.live(channel), 15, f"the {codec} channel to go live")
        with fleet.client(source=EAST_VIEWER) as api:
            play = api.get(f"/play/{channel}.m3u8", params={"format": "json"}).json()
        master_url = str(play["url"])
        wait_for(
            lambda: httpx.get(master_url, timeout=15).status_code == 200, 20, "the master playlist"
        )
        yield codec, master_url
        assert pusher.poll() is None, pusher.stderr.read() if pusher.stderr else ""
    finally:
        pusher.kill()
        pusher.wait()


def test_ladder_is_h264_and_the_passthrough_keeps_the_source_codec(
    pushed: tuple[str, str], tmp_path: Path
) -> None:
    codec, master_url = pushed
    master = m3u8.loads(_get(master_url).decode(), uri=master_url)
    variants = {
        p.stream_info.resolution: (p.stream_info.codecs, urljoin(master_url, p.uri))
        for p in master.playlists
        if p.stream_info.resolution
    }
    assert set(variants) == {(640, 480), (480, 360), (214, 160)}
    for size in ((480, 360), (214, 160)):
        codecs, rendition = variants[size]
        assert codecs.startswith("avc1.") and codecs.endswith(",mp4a.40.2")
        assert _decode(_first_segment(rendition, tmp_path)) == ("h264", size)
    codecs, rendition = variants[(640, 480)]
    source = _first_segment(rendition, tmp_path)
    # The CODECS string is the one the init segment's own record spells.
    assert codecs == f"{video_codec_string(codec, _source_record(source, codec))},mp4a.40.2"
    assert codecs.startswith(SAMPLE_ENTRIES[codec].decode() + ".")
    assert _decode(source) == (DECODERS[codec], (640, 480))


@pytest.mark.usefixtures("needs_hls_js")
def test_hls_js_plays_the_push(fleet: Fleet, pushed: tuple[str, str]) -> None:
    codec, _ = pushed
    entry = SAMPLE_ENTRIES[codec].decode()
    levels, playing = played_codecs(fleet.api, f"{codec}-push")
    # hls.js keeps only the levels the browser can decode (Debian's Chromium has no
    # HEVC): it plays an H.264 rendition, or the source where the browser takes it.
    source_kept = any(level.startswith(entry + ".") for level in levels)
    assert playing.startswith("avc1.") or (source_kept and playing.startswith(entry + ".")), levels
