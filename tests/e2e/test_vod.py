"""Recording on `glasscast up`: a 30 s broadcast at ingest-east becomes a VOD that
edge-west serves; a clip taken while live starts at the asked-for frame."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import m3u8
import pytest
from fleetlib import Fleet, vod_of, wait_for

PUSHED = 30.0
GRACE = 6.0  # the shared fleet's reconnect grace
CLIP_OFFSET, CLIP_SECONDS = 3.5, 10.0  # 3.5 s is mid-GOP: the cutter re-encodes a head


@dataclass
class Broadcast:
    channel: str
    ended_at: float  # monotonic, when the broadcaster hung up
    clip: dict[str, Any]
    still: httpx.Response  # the live thumbnail, fetched while live


def _probe_duration(target: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", target],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(out.stdout.strip())


def _decode_errors(target: str, *args: str) -> str:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", target, *args, "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stderr


@pytest.fixture(scope="module")
def broadcast(fleet: Fleet) -> Iterator[Broadcast]:
    key = fleet.create_channel("recorded")
    url = f"{fleet.node('ingest-east')['rtmp']}/{key}"
    pusher = subprocess.Popen(
        [sys.executable, "-m", "localfleet.demo", url, "--seconds", str(PUSHED),
         "--size", "640x360", "--bitrate", "800000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        live = wait_for(lambda: fleet.live("recorded"), 20, "the channel to go live")
        started = time.monotonic()
        # Wait until the range is whole segments at the origin, then ask for the clip.
        time.sleep(max(0.0, CLIP_OFFSET + CLIP_SECONDS + 3.0 - (time.monotonic() - started)))
        with fleet.client() as api:
            answer = api.post(
                "/api/v1/clips",
                json={
                    "channel": "recorded",
                    "duration_seconds": CLIP_SECONDS,
                    "offset_seconds": CLIP_OFFSET,
                },
            )
        assert answer.status_code == 202, answer.text
        clip = answer.json()
        assert clip["status"] == "processing" and clip["stream_id"] == live["stream_id"]
        url = str(fleet.live("recorded")["thumbnail_url"])  # type: ignore[index]
        still = wait_for(lambda: _fetched(url), 12, "a live thumbnail")
        assert pusher.wait(PUSHED + 30) == 0, pusher.stderr.read() if pusher.stderr else ""
        yield Broadcast("recorded", time.monotonic(), clip, still)
    finally:
        pusher.kill()
        pusher.wait()


def _fetched(url: str) -> httpx.Response | None:
    answer = httpx.get(url, timeout=10)
    return answer if answer.status_code == 200 else None


def test_a_live_stream_has_a_fresh_thumbnail(broadcast: Broadcast) -> None:
    assert broadcast.still.headers["content-type"] == "image/jpeg"
    assert broadcast.still.content.startswith(b"\xff\xd8")
    assert "immutable" not in broadcast.still.headers["cache-control"]


@pytest.fixture(scope="module")
def vod(fleet: Fleet, broadcast: Broadcast) -> dict[str, Any]:
    found = wait_for(lambda: vod_of(fleet, broadcast.channel), GRACE + 10 + 3, "the VOD")
    assert time.monotonic() - broadcast.ended_at <= GRACE + 10 + 3
    return dict(found)


def test_vod_is_recorded_with_its_facts(fleet: Fleet, vod: dict[str, Any]) -> None:
    with fleet.client() as api:
        one = api.get(f"/api/v1/vods/{vod['id']}").json()
    assert one["origin_node"] == "ingest-east"
    assert abs(one["duration_seconds"] - PUSHED) <= 1.0
    assert one["size_bytes"] > 0 and one["storage_tier"]
    assert {r["name"] for r in one["renditions"]} >= {"source"}
    assert one["thumbnail_path"] and one["mp4_path"]
    assert "ingest-east" in {loc["node"] for loc in one["locations"]}


def test_vod_plays_from_edge_west(fleet: Fleet, vod: dict[str, Any]) -> None:
    west = fleet.node("edge-west")["http"]
    master_url = west + vod["playlist_path"]
    answer = httpx.get(master_url, timeout=30)
    assert answer.status_code == 200
    assert "immutable" in answer.headers["cache-control"]
    master = m3u8.loads(answer.text, uri=master_url)
    lowest = min(master.playlists, key=lambda p: p.stream_info.bandwidth)
    media_url = lowest.absolute_uri
    media = httpx.get(media_url, timeout=30).text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media and "#EXT-X-ENDLIST" in media
    assert "#EXT-X-PART" not in media
    assert abs(_probe_duration(media_url) - PUSHED) <= 1.0
    _decode_errors(media_url)


def test_vod_mp4_decodes_end_to_end(fleet: Fleet, vod: dict[str, Any], tmp_path: Path) -> None:
    origin = fleet.node("ingest-east")["http"]
    mp4 = tmp_path / "vod.mp4"
    mp4.write_bytes(httpx.get(origin + vod["mp4_path"], timeout=30).content)
    assert abs(_probe_duration(str(mp4)) - PUSHED) <= 1.0
    _decode_errors(str(mp4))
    with av.open(str(mp4)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - PUSHED * 30) <= 30


def test_vod_is_copied_to_the_regions_shield(fleet: Fleet, vod: dict[str, Any]) -> None:
    def copied() -> bool:
        with fleet.client() as api:
            one = api.get(f"/api/v1/vods/{vod['id']}").json()
        return "shield-east" in {loc["node"] for loc in one["locations"]}

    wait_for(copied, 20, "the shield's copy")
    shield_copy = fleet.state_dir / "nodes" / "shield-east"
    assert any(shield_copy.rglob(f"vod/{vod['id']}/master.m3u8"))


def _small_gray(frame: av.VideoFrame) -> bytes:
    return bytes(frame.reformat(width=64, height=36, format="gray").planes[0])


def _distance(a: bytes, b: bytes) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def test_clip_taken_live_starts_at_the_asked_frame(
    fleet: Fleet, broadcast: Broadcast, vod: dict[str, Any], tmp_path: Path
) -> None:
    def ready() -> dict[str, Any] | None:
        with fleet.client() as api:
            clip = api.get(f"/api/v1/clips/{broadcast.clip['id']}").json()
        assert clip["status"] != "failed", clip
        return dict(clip) if clip["status"] == "ready" else None

    clip = wait_for(ready, 15, "the clip")
    path = tmp_path / "clip.mp4"
    path.write_bytes(httpx.get(clip["url"], timeout=30).content)
    assert abs(_probe_duration(str(path)) - CLIP_SECONDS) <= 0.1
    _decode_errors(str(path))
    with av.open(str(path)) as container:
        first = _small_gray(next(container.decode(video=0)))
    # The same moment in the VOD (cut from the same rendition): the frame counter
    # makes every frame differ from its neighbours.
    vod_mp4 = tmp_path / "vod.mp4"
    vod_mp4.write_bytes(
        httpx.get(fleet.node("ingest-east")["http"] + vod["mp4_path"], timeout=30).content
    )
    around: dict[int, bytes] = {}
    with av.open(str(vod_mp4)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if abs(index - CLIP_OFFSET * 30) <= 3:
                around[index] = _small_gray(frame)
            if index > CLIP_OFFSET * 30 + 3:
                break
    best = min(around, key=lambda i: _distance(around[i], first))
    assert best == round(CLIP_OFFSET * 30)
