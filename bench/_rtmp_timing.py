"""An RTMP publisher that says when each video frame went out (for bench/part_latency.py).

Runs as its own process (PyAV holds the GIL while its RTMP muxer connects):

    python bench/_rtmp_timing.py URL --seconds N [--size 1280x720]

It encodes a test pattern like an OBS-style live encoder (x264 veryfast + zerolatency,
no B-frames, an IDR every 2 s, AAC-LC), captures frame i at start + i/fps, and prints
one line per video frame, `<index> <monotonic seconds>`, taken right after that frame's
packet was written to the socket. Two details make that time exact:

- `flush_packets=1`: the FLV muxer's I/O buffer is flushed after every packet instead of
  holding a part of a frame until the buffer fills;
- audio is muxed a little ahead of video: the interleaving muxer writes a packet only
  once every stream has one queued, so with audio already queued past the frame's
  time, the video packet is written during its own `mux` call, not the next one.

CLOCK_MONOTONIC is system-wide on Linux, so the parent compares these times directly.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction

import av
from av.audio.resampler import AudioResampler

SAMPLE_RATE = 48_000
# How far audio runs ahead of video in the muxer's queue (see the module's note).
AUDIO_LEAD = 0.25


def _graph(
    name: str, args: str, sink: str
) -> tuple[av.filter.Graph, av.filter.context.FilterContext]:
    graph = av.filter.Graph()
    source, out = graph.add(name, args), graph.add(sink)
    source.link_to(out)
    graph.configure()
    return graph, out


def publish(url: str, seconds: float, width: int, height: int, fps: int) -> None:
    container = av.open(url, mode="w", format="flv", container_options={"flush_packets": "1"})
    try:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = 2_500_000
        video.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "x264-params": f"keyint={2 * fps}:min-keyint={2 * fps}:scenecut=0:bframes=0",
        }
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        audio.bit_rate = 128_000
        resampler = AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        _vgraph, vsink = _graph("testsrc", f"size={width}x{height}:rate={fps}", "buffersink")
        _agraph, asink = _graph("sine", f"frequency=440:sample_rate={SAMPLE_RATE}", "abuffersink")
        samples = 0
        pending: list[int] = []
        started = time.monotonic()
        for index in range(round(seconds * fps)):
            while samples < (index / fps + AUDIO_LEAD) * SAMPLE_RATE:
                tone = asink.pull()
                assert isinstance(tone, av.AudioFrame)
                for chunk in resampler.resample(tone):
                    chunk.pts, chunk.time_base = samples, Fraction(1, SAMPLE_RATE)
                    samples += chunk.samples
                    container.mux(audio.encode(chunk))
            # A camera delivers frame i at i/fps; the encoder starts on it then.
            ahead = started + index / fps - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            pulled = vsink.pull()
            assert isinstance(pulled, av.VideoFrame)
            frame = pulled.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            pending.append(index)
            for packet in video.encode(frame):
                container.mux(packet)
                # No B-frames: packets leave the encoder in capture order.
                print(pending.pop(0), f"{time.monotonic():.6f}", flush=True)
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    finally:
        container.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    try:
        publish(args.url, args.seconds, width, height, args.fps)
    except (av.FFmpegError, OSError) as exc:
        print(f"publisher: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
