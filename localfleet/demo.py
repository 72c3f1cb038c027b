"""The demo broadcaster: a test pattern with a running counter and a tone, over RTMP.

Runs as its own process (`python -m localfleet.demo URL`): PyAV holds the GIL
while its RTMP muxer connects, so it must never share a process with a server. It
encodes like OBS does (H.264 with a keyframe every 2 s, AAC-LC) and paces itself to
the wall clock; a lost connection is retried, as an encoder would.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from fractions import Fraction

import av
from av.audio.resampler import AudioResampler
from av.filter.context import FilterContext

from shared import lifeline

# Named for the module, as everywhere: run with `python -m`, __name__ is "__main__".
log = logging.getLogger(__spec__.name if __spec__ else __name__)

FPS = 30
SAMPLE_RATE = 48_000


def _source(name: str, args: str, sink_name: str) -> tuple[av.filter.Graph, FilterContext]:
    """A lavfi source graph and its sink; the graph must outlive the sink's use."""
    graph = av.filter.Graph()
    src = graph.add(name, args)
    sink = graph.add(sink_name)
    src.link_to(sink)
    graph.configure()
    return graph, sink


def push(url: str, seconds: float | None, width: int, height: int, bitrate: int) -> None:
    """Push until `seconds` of media have gone out (forever when None)."""
    container = av.open(url, mode="w", format="flv")
    try:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bitrate
        video.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "x264-params": f"keyint={2 * FPS}:min-keyint={2 * FPS}:scenecut=0",
        }
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "stereo"
        audio.bit_rate = 128_000
        resampler = AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        # testsrc draws a frame counter, so a clip's start can be checked frame-exact.
        _vgraph, vsink = _source("testsrc", f"size={width}x{height}:rate={FPS}", "buffersink")
        _agraph, asink = _source(
            "sine", f"frequency=440:sample_rate={SAMPLE_RATE}:beep_factor=4", "abuffersink"
        )
        started = time.monotonic()
        frame_index = 0
        audio_samples = 0
        while seconds is None or frame_index < seconds * FPS:
            pulled = vsink.pull()
            assert isinstance(pulled, av.VideoFrame)
            frame = pulled.reformat(format="yuv420p")
            frame.pts = frame_index
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
            frame_index += 1
            # Keep audio up to date with video so the muxer interleaves them.
            while audio_samples < frame_index * SAMPLE_RATE // FPS:
                tone = asink.pull()
                assert isinstance(tone, av.AudioFrame)
                for chunk in resampler.resample(tone):
                    chunk.pts = audio_samples
                    chunk.time_base = Fraction(1, SAMPLE_RATE)
                    audio_samples += chunk.samples
                    container.mux(audio.encode(chunk))
            ahead = started + frame_index / FPS - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    finally:
        container.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="push the Glasscast demo test pattern")
    parser.add_argument("url", help="rtmp://host:port/live/STREAM_KEY")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this much media")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--bitrate", type=int, default=2_500_000)
    parser.add_argument("--retry", action="store_true", help="reconnect when the server drops us")
    args = parser.parse_args(argv)
    # Started by `glasscast up`: stop pushing when it is gone, even if it was SIGKILLed.
    lifeline.watch()
    width, height = (int(v) for v in args.size.split("x"))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    while True:
        try:
            push(args.url, args.seconds, width, height, args.bitrate)
            return 0
        except (av.FFmpegError, OSError) as exc:
            if not args.retry:
                print(f"demo: {exc}", file=sys.stderr)
                return 1
            log.warning("demo push failed (%s); retrying in 2 s", exc)
            time.sleep(2)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
