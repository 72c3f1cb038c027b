"""Broadcasters go live over SRT against `glasscast up`, as `ffmpeg -f mpegts srt://` does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urljoin

import httpx
import m3u8
import pytest
from browser.watch import played_codecs
from fleetlib import Fleet, check_vod_plays, count_frames, ffmpeg_push, vod_of, wait_for
from testclip import source_clip

WEST_VIEWER = "127.2.0.9"  # inside edge-west's prefixes


def srt_push(url: str, *, seconds: float | None = None) -> subprocess.Popen[bytes]:
    """Push the test clip in real time as MPEG-TS over SRT (what OBS's SRT output does)."""
    duration = ["-t", str(seconds)] if seconds else []
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source_clip()),
         *duration, "-c", "copy", "-f", "mpegts", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(push: subprocess.Popen[bytes]) -> None:
    push.kill()
    push.wait()
    if push.stderr:
        push.stderr.close()


def _with_a_segment(url: str) -> m3u8.M3U8 | None:
    playlist = m3u8.loads(httpx.get(url, timeout=15).text, uri=url)
    return playlist if [s for s in playlist.segments if s.duration and s.uri] else None


def test_srt_push_goes_live_and_plays_at_edge_west(fleet: Fleet) -> None:
    # The command, as is.
    key = fleet.create_channel("srt-push")
    push = srt_push(f"{fleet.node('ingest-east')['srt']}?streamid={quote(key)}")
    try:
        live = wait_for(lambda: fleet.live("srt-push"), 15, "the SRT channel to go live")
        assert live["origin_node"] == "ingest-east"
        busy = wait_for(
            lambda: (s := fleet.live("srt-push")) and (s["ingest_bitrate"] or 0) > 1e6 and s,
            15,
            "the ingest bitrate in the live answer",
        )
        assert 20 < busy["ingest_fps"] < 40
        assert {"source", "480p30", "360p30", "160p30"} <= set(busy["renditions"])
        with fleet.client(source=WEST_VIEWER) as api:
            play = api.get("/play/srt-push.m3u8", params={"format": "json"}).json()
        assert play["edge"] == "edge-west"
        master_url = str(play["url"])
        wait_for(
            lambda: httpx.get(master_url, timeout=15).status_code == 200,
            30,
            "the master playlist at edge-west",
        )
        master = m3u8.loads(httpx.get(master_url, timeout=15).text, uri=master_url)
        variant = urljoin(master_url, master.playlists[-1].uri)
        playlist = wait_for(lambda: _with_a_segment(variant), 20, "a whole segment at edge-west")
        assert "#EXT-X-PART:" in playlist.dumps()
        segment = httpx.get(urljoin(variant, playlist.segments[-1].uri), timeout=15)
        assert segment.status_code == 200 and len(segment.content) > 1000
        assert push.wait(60) == 0, push.stderr.read() if push.stderr else ""
        # As for RTMP: once the grace has passed, the broadcast is a VOD edges serve.
        vod = wait_for(lambda: vod_of(fleet, "srt-push"), 30, "the SRT broadcast's VOD")
        assert vod["stream_id"] == live["stream_id"]
        check_vod_plays(fleet, vod)
    finally:
        _stop(push)


def test_access_control_stream_id_on_the_other_ingest_and_every_frame_arrives(
    fleet: Fleet,
) -> None:
    key = fleet.create_channel("srt-west")
    # Raw in the URL: ffmpeg hands `streamid` to libsrt as written (we take it either way).
    stream_id = f"#!::r={key},m=publish"
    # ffmpeg closes its SRT socket without waiting for what is still in flight unless
    # told to linger: without it the clip's last ~100 ms never leave the encoder.
    url = f"{fleet.node('edge-west')['srt']}?streamid={stream_id}&linger=2"
    push = srt_push(url)
    try:
        live = wait_for(lambda: fleet.live("srt-west"), 15, "the SRT channel to go live")
        assert live["origin_node"] == "edge-west"
        assert push.wait(60) == 0, push.stderr.read() if push.stderr else ""
    finally:
        _stop(push)
    # The node records every publish raw (rtmp.record_dir in `glasscast up`): whatever
    # the protocol, every frame the encoder sent is in it.
    recording = wait_for(
        lambda: next(iter(fleet.recordings.glob(f"srt-west-{live['stream_id']}*.flv")), None),
        15,
        "the ingest recording",
    )
    sent = count_frames(source_clip())
    wait_for(lambda: count_frames(recording) == sent, 10, f"{sent} frames in the recording")
    # Audio by packets: decoding the MP4 drops its AAC priming frame, the TS carries it.
    sent = _count_packets(source_clip(), "a:0")
    assert _count_packets(recording, "a:0") == sent


def _count_packets(path: Path, stream: str) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", stream,
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[0])


def test_wrong_key_fails_ffmpeg_within_5_s_and_nothing_goes_live(fleet: Fleet) -> None:
    fleet.create_channel("srt-wrong")
    started = time.monotonic()
    push = srt_push(f"{fleet.node('ingest-east')['srt']}?streamid=live_not-a-real-key")
    try:
        code = push.wait(10)
    finally:
        _stop(push)
    assert code != 0
    assert time.monotonic() - started < 5
    assert fleet.live("srt-wrong") is None


def test_request_mode_and_malformed_ids_are_refused_in_the_handshake(fleet: Fleet) -> None:
    srt = fleet.node("ingest-east")["srt"]
    for stream_id in ("#!::r=live_x,m=request", "not a key", "x" * 512):
        started = time.monotonic()
        push = srt_push(f"{srt}?streamid={quote(stream_id, safe='')}")
        try:
            code = push.wait(10)
            err = push.stderr.read().decode(errors="replace") if push.stderr else ""
        finally:
            _stop(push)
        assert code != 0
        assert time.monotonic() - started < 3, stream_id
        assert "rejected" in err.lower() or "error" in err.lower(), err


def test_a_broadcaster_switching_from_rtmp_to_srt_within_the_grace_keeps_the_stream(
    fleet: Fleet,
) -> None:
    key = fleet.create_channel("srt-switch")
    node = fleet.node("ingest-east")
    first = ffmpeg_push(f"{node['rtmp']}/{key}", seconds=3)
    try:
        live = wait_for(lambda: fleet.live("srt-switch"), 15, "the channel to go live")
        assert live["ingest_protocol"] == "rtmp"
        assert first.wait(30) == 0
    finally:
        _stop(first)
    wait_for(
        lambda: (fleet.live("srt-switch") or {}).get("status") == "reconnecting",
        10,
        "the stream to wait for its broadcaster",
    )
    second = srt_push(f"{node['srt']}?streamid={key}", seconds=3)
    try:
        again = wait_for(
            lambda: (s := fleet.live("srt-switch")) and s["status"] == "live" and s,
            15,
            "live again over SRT",
        )
        assert again["stream_id"] == live["stream_id"]
        assert again["ingest_protocol"] == "srt"  # the latest publish's protocol
        assert second.wait(30) == 0
    finally:
        _stop(second)
    # After the fleet's grace the stream is over, as for RTMP.
    wait_for(lambda: fleet.live("srt-switch") is None, 20, "the stream to end after the grace")


@pytest.mark.usefixtures("needs_hls_js")
def test_hevc_over_srt_plays_through_h264_renditions(fleet: Fleet, tmp_path: Path) -> None:
    """An HEVC source (what hardware encoders send over SRT) is decoded and the ladder is
    made in H.264; the passthrough rendition keeps HEVC."""
    clip = tmp_path / "hevc.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source_clip()), "-t", "6",
         "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=60",
         "-c:a", "copy", str(clip)],
        check=True,
    )  # fmt: skip
    key = fleet.create_channel("srt-hevc")
    push = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "2",
         "-i", str(clip), "-c", "copy",
         "-f", "mpegts", f"{fleet.node('ingest-east')['srt']}?streamid={key}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: fleet.live("srt-hevc"), 15, "the HEVC channel to go live")
        with fleet.client(source=WEST_VIEWER) as api:
            play = api.get("/play/srt-hevc.m3u8", params={"format": "json"}).json()
        master_url = str(play["url"])

        def with_h264_renditions() -> m3u8.M3U8 | None:
            answer = httpx.get(master_url, timeout=15)
            if answer.status_code != 200:
                return None
            master = m3u8.loads(answer.text, uri=master_url)
            codecs = [p.stream_info.codecs or "" for p in master.playlists]
            return master if any(c.startswith("avc1") for c in codecs) else None

        master = wait_for(with_h264_renditions, 30, "H.264 renditions at edge-west")
        codecs = {p.uri.split("/", 1)[0]: p.stream_info.codecs or "" for p in master.playlists}
        assert codecs.get("source", "hvc1").startswith("hvc1"), codecs
        h264 = next(p for p in master.playlists if (p.stream_info.codecs or "").startswith("avc1"))
        variant = urljoin(master_url, h264.uri)
        wait_for(lambda: _with_a_segment(variant), 20, "an H.264 segment at edge-west")
        # hls.js keeps the levels Chromium can decode (Debian's has no HEVC) and plays one.
        levels, playing = played_codecs(fleet.api, "srt-hevc")
        assert playing.startswith("avc1."), levels
    finally:
        _stop(push)
