"""A 720p push to `glasscast up` comes out of the origin as a ladder in LL-HLS."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import m3u8
import pytest
from fleetlib import Fleet, ffmpeg_push, wait_for

EAST_VIEWER = "127.1.0.7"  # inside ingest-east's prefixes


@pytest.fixture(scope="module")
def ladder(fleet: Fleet) -> Iterator[str]:
    """The origin's master playlist URL (with its viewer token) while a push runs."""
    key = fleet.create_channel("ladder")
    # Looped: the tests below outlast one pass of the 10 s clip.
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}", loop=True)
    try:
        wait_for(lambda: fleet.live("ladder"), 15, "the channel to go live")
        with fleet.client(source=EAST_VIEWER) as api:
            play = api.get("/play/ladder.m3u8", params={"format": "json"}).json()
        assert play["edge"] == "ingest-east"
        url = str(play["url"])
        # The master playlist exists once every rendition has written its first part.
        wait_for(lambda: httpx.get(url, timeout=15).status_code == 200, 20, "the master playlist")
        yield url
    finally:
        push.kill()
        push.wait()


def _get(url: str) -> httpx.Response:
    answer = httpx.get(url, timeout=15)
    answer.raise_for_status()
    return answer


def _complete(playlist: m3u8.M3U8) -> list[m3u8.Segment]:
    return [s for s in playlist.segments if s.duration is not None and s.uri]


def _wait_segments(url: str, count: int) -> m3u8.M3U8:
    def enough() -> m3u8.M3U8 | None:
        playlist = m3u8.loads(_get(url).text, uri=url)
        return playlist if len(_complete(playlist)) >= count else None

    return wait_for(enough, 30, f"{count} segments in {url}")


def test_master_lists_source_and_three_transcoded_renditions(ladder: str) -> None:
    def measured() -> m3u8.M3U8 | None:
        # AVERAGE-BANDWIDTH is measured over whole segments: there after the first.
        master = m3u8.loads(_get(ladder).text, uri=ladder)
        return master if all(p.stream_info.average_bandwidth for p in master.playlists) else None

    master = wait_for(measured, 15, "measured bandwidths in the master playlist")
    video = [p for p in master.playlists if p.stream_info.resolution]
    assert sorted(p.stream_info.resolution[1] for p in video) == [160, 360, 480, 720]
    for variant in video:
        info = variant.stream_info
        assert info.bandwidth > 0 and info.average_bandwidth and info.frame_rate
        assert info.codecs.startswith("avc1.") and "mp4a.40.2" in info.codecs
    # Besides the ladder, at most one audio-only variant (for very poor links).
    others = [p for p in master.playlists if not p.stream_info.resolution]
    assert [p.stream_info.codecs for p in others] in ([], ["mp4a.40.2"])
    for variant in master.playlists:
        assert "token=" in variant.uri  # the viewer token travels into child URIs


def _rendition_urls(ladder: str) -> list[str]:
    """The video renditions' playlists."""
    master = m3u8.loads(_get(ladder).text, uri=ladder)
    return [urljoin(ladder, p.uri) for p in master.playlists if p.stream_info.resolution]


def test_media_playlists_carry_the_low_latency_tags(ladder: str) -> None:
    for url in _rendition_urls(ladder):
        text = _wait_segments(url, 2).dumps() and _get(url).text
        for tag in (
            "#EXT-X-TARGETDURATION:",
            "#EXT-X-PART-INF:PART-TARGET=",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES",
            "PART-HOLD-BACK=",
            "CAN-SKIP-UNTIL=",
            "#EXT-X-MAP:",
            "#EXT-X-PROGRAM-DATE-TIME:",
            "#EXT-X-PART:",
            "#EXT-X-PRELOAD-HINT:",
            "#EXT-X-RENDITION-REPORT:",
        ):
            assert tag in text, f"{tag} missing from {url}"
        playlist = m3u8.loads(text, uri=url)
        part_target = playlist.part_inf.part_target
        assert playlist.server_control.part_hold_back >= 3 * part_target
        for segment in playlist.segments:
            # The segment in progress has parts but no EXTINF (duration) yet.
            if segment.duration is not None:
                assert round(segment.duration) <= playlist.target_duration
            for part in segment.parts:
                assert part.duration <= part_target + 1e-3


def _segment_files(url: str, tmp: Path, count: int) -> list[Path]:
    playlist = _wait_segments(url, count)
    init = _get(urljoin(url, playlist.segment_map[0].uri)).content
    files = []
    for i, segment in enumerate(_complete(playlist)[:count]):
        path = tmp / f"{abs(hash(url))}-{i}.mp4"
        path.write_bytes(init + _get(urljoin(url, segment.uri)).content)
        files.append(path)
    return files


def _probe_frames(path: Path) -> list[tuple[float, str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pts_time,pict_type", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stderr == "", out.stderr
    frames = []
    for line in out.stdout.split():
        fields = line.split(",")
        frames.append((float(fields[0]), fields[1]))
    return frames


def test_segments_decode_start_on_keyframes_and_align(ladder: str, tmp_path: Path) -> None:
    starts: dict[str, list[float]] = {}
    for url in _rendition_urls(ladder):
        firsts = []
        for path in _segment_files(url, tmp_path, 3):
            frames = _probe_frames(path)
            assert frames, f"no video decoded from {path.name}"
            assert frames[0][1] == "I", f"{url}: a segment starts with {frames[0][1]}"
            firsts.append(frames[0][0])
        starts[url] = firsts
    reference = next(iter(starts.values()))
    for url, firsts in starts.items():
        assert firsts == pytest.approx(reference, abs=0.05), f"{url} is not aligned"


def test_blocking_reload_waits_for_the_next_part(ladder: str) -> None:
    url = _rendition_urls(ladder)[0]
    _wait_segments(url, 1)
    text = _get(url).text
    hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([0-9]+)\.([0-9]+)\.m4s', text)
    assert hint, "no preload hint"
    msn, part = int(hint.group(1)), int(hint.group(2))
    # Held until the hinted part exists, then answered with it listed. A keyframe may close
    # the segment first; the hint then never exists and RFC 8216bis 6.2.5.2 reads the request
    # as part 0 of the next segment.
    answer = httpx.get(f"{url}&_HLS_msn={msn}&_HLS_part={part}", timeout=15)
    assert answer.status_code == 200
    assert f'URI="{msn}.{part}.m4s"' in answer.text or f'URI="{msn + 1}.0.m4s"' in answer.text
    too_far = httpx.get(f"{url}&_HLS_msn={msn + 50}", timeout=15)
    assert too_far.status_code == 400
