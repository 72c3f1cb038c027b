"""Publish a short synthetic H.264 + AAC stream over RTMP with PyAV.

Run as a child process (`python pyav_publisher.py URL FRAMES [VIDEO_ENCODER [WxH]]`): PyAV
holds the GIL while it connects, which would freeze a trio server in the same process.
Prints the number of video frames sent on its last line. With `libx265`, PyAV's FFmpeg
sends HEVC the Enhanced RTMP way (FourCC `hvc1`); with `libsvtav1`, AV1 (`av01`). With a
size it also paces itself to real time, as an encoder does (the fleet tests watch it live).
"""

from __future__ import annotations

import array
import math
import sys
import time

import av
from av.video.stream import VideoStream

WIDTH, HEIGHT, FPS = 320, 240, 25
SAMPLE_RATE, AUDIO_FRAME = 44_100, 1024


def _video_frame(index: int, width: int = WIDTH, height: int = HEIGHT) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    # A moving luma ramp, so the encoder produces real P-frames and not just skips.
    luma = bytes((x + index * 4) % 256 for x in range(width)) * height
    frame.planes[0].update(luma)
    frame.planes[1].update(bytes([128]) * (width * height // 4))
    frame.planes[2].update(bytes([128]) * (width * height // 4))
    frame.pts = index
    return frame


def _audio_frame(index: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=AUDIO_FRAME)
    start = index * AUDIO_FRAME
    tone = array.array(
        "f", (0.2 * math.sin(2 * math.pi * 440 * (start + i) / SAMPLE_RATE) for i in range(1024))
    )
    for plane in frame.planes:
        plane.update(tone.tobytes())
    frame.sample_rate = SAMPLE_RATE
    frame.pts = start
    return frame


def publish(url: str, frames: int, encoder: str = "libx264", size: str = "") -> int:
    width, height = (int(n) for n in size.split("x")) if size else (WIDTH, HEIGHT)
    started = time.monotonic()
    container = av.open(url, mode="w", format="flv")
    try:
        video = container.add_stream(encoder, rate=FPS)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "g": str(FPS * 2), "bf": "0"}
        if encoder == "libx265":
            video.options["x265-params"] = "log-level=error"
        elif encoder == "libsvtav1":
            # SVT-AV1 counts presets 0..13 (fastest); it has no B-frame option.
            video.options = {"preset": "12", "g": str(FPS * 2)}
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        sent = 0
        audio_index = 0
        for index in range(frames):
            if size and (ahead := started + index / FPS - time.monotonic()) > 0:
                time.sleep(ahead)  # real time, like an encoder fed by a camera
            for packet in video.encode(_video_frame(index, width, height)):
                container.mux(packet)
                sent += 1
            # Keep audio roughly in step with video so the muxer interleaves them.
            while audio_index * AUDIO_FRAME / SAMPLE_RATE <= (index + 1) / FPS:
                for packet in audio.encode(_audio_frame(audio_index)):
                    container.mux(packet)
                audio_index += 1
        for packet in video.encode(None):
            container.mux(packet)
            sent += 1
        for packet in audio.encode(None):
            container.mux(packet)
    finally:
        container.close()
    return sent


if __name__ == "__main__":
    print(publish(sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]))
