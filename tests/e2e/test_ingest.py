"""Broadcasters go live over RTMP against `glasscast up`, as OBS and ffmpeg do."""

from __future__ import annotations

import subprocess
import sys
import time

from fleetlib import Fleet, count_frames, ffmpeg_push, wait_for
from testclip import source_clip


def test_ffmpeg_goes_live_and_every_frame_arrives(fleet: Fleet) -> None:
    key = fleet.create_channel("ffmpeg-push")
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/{key}")
    try:
        live = wait_for(lambda: fleet.live("ffmpeg-push"), 15, "the channel to go live")
        assert live["status"] == "live"
        assert live["origin_node"] == "ingest-east"
        assert live["stream_id"].startswith("st_")
        # The origin's reports carry what the operator sees: bitrate, fps, renditions.
        busy = wait_for(
            lambda: (s := fleet.live("ffmpeg-push")) and (s["ingest_bitrate"] or 0) > 1e6 and s,
            15,
            "the ingest bitrate in the live answer",
        )
        assert 20 < busy["ingest_fps"] < 40 and busy["transcode_lag"] is not None
        assert {"source", "480p30", "360p30", "160p30"} <= set(busy["renditions"])
        assert push.wait(60) == 0, push.stderr.read() if push.stderr else ""
    finally:
        push.kill()
        push.wait()
    recording = wait_for(
        lambda: next(iter(fleet.recordings.glob(f"ffmpeg-push-{live['stream_id']}*.flv")), None),
        10,
        "the ingest recording",
    )
    sent = count_frames(source_clip())
    wait_for(lambda: count_frames(recording) == sent, 10, f"{sent} frames in the recording")


def test_wrong_key_is_refused_fast_and_ffmpeg_fails(fleet: Fleet) -> None:
    started = time.monotonic()
    push = ffmpeg_push(f"{fleet.node('ingest-east')['rtmp']}/live_not-a-real-key", seconds=5)
    code = push.wait(30)
    assert code != 0
    assert time.monotonic() - started < 5  # refused at publish, not after the clip


def test_pyav_publisher_goes_live_on_the_other_ingest(fleet: Fleet) -> None:
    key = fleet.create_channel("pyav-push")
    # PyAV holds the GIL while it connects: it runs in its own process, like the demo.
    pusher = subprocess.Popen(
        [sys.executable, "-m", "localfleet.demo",
         f"{fleet.node('edge-west')['rtmp']}/{key}", "--seconds", "4", "--size", "640x360"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        live = wait_for(lambda: fleet.live("pyav-push"), 15, "the PyAV channel to go live")
        assert live["origin_node"] == "edge-west"
        assert pusher.wait(30) == 0, pusher.stderr.read() if pusher.stderr else ""
    finally:
        pusher.kill()
        pusher.wait()


def test_reconnect_within_grace_keeps_the_stream_then_it_ends(fleet: Fleet) -> None:
    key = fleet.create_channel("reconnect")
    url = f"{fleet.node('ingest-east')['rtmp']}/{key}"
    first = ffmpeg_push(url, seconds=3)
    try:
        live = wait_for(lambda: fleet.live("reconnect"), 15, "the channel to go live")
        assert first.wait(30) == 0
    finally:
        first.kill()
        first.wait()
    stream_id = live["stream_id"]
    wait_for(
        lambda: (fleet.live("reconnect") or {}).get("status") == "reconnecting",
        10,
        "the stream to wait for its broadcaster",
    )
    second = ffmpeg_push(url, seconds=3)
    try:
        again = wait_for(
            lambda: (s := fleet.live("reconnect")) and s["status"] == "live" and s, 15, "live again"
        )
        assert again["stream_id"] == stream_id
        assert second.wait(30) == 0
    finally:
        second.kill()
        second.wait()
    # The fleet runs with a 6 s grace: after it the stream is over.
    wait_for(lambda: fleet.live("reconnect") is None, 20, "the stream to end after the grace")
