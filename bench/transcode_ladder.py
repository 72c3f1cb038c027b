"""The origin's ladder against the ffmpeg CLI: CPU per media second and real-time factor.

Both sides take the shared 720p clip (1280x720p30 H.264 High with B-frames, AAC) three
times over (~30 s of media) as fast as they can and produce the default ladder for it:
the source passed through, 480p/360p/160p in libx264 veryfast + zerolatency, no
B-frames, closed GOP, an IDR every 2 s, CBR-like bitrate/maxrate/bufsize, AAC passed
through, written as fMP4 HLS.

- ours: the source events (demuxed beforehand, as ingest would hand them over) go
  through `TranscodeWorker` (its worker process) into the per-stream packager writing
  CMAF/LL-HLS to a temporary directory; if the packager cannot be imported, the
  encoded events go to a null sink and the output says so.
- ffmpeg: one CLI process, decode once, split, scale (bicubic, its default),
  `-f hls -hls_segment_type fmp4 -var_stream_map`.

The clip repeats at its real length (first packet start to last packet end over all
streams), as ffmpeg's `-stream_loop` does, so both sides see one continuous stream;
ours prints the discontinuities its playlists counted, which must be 0.

CPU is user+system seconds of this process and its reaped children (getrusage),
divided by media seconds; for ours the share of this process (ingest hand-off,
packager) is printed apart from the worker's. The real-time factor is media seconds
over wall seconds. Rounds alternate; p50s are printed, then the ratios ours/ffmpeg.
Targets: CPU ratio <= 0.9, real-time-factor ratio >= 1.2.

`--floor` adds a third side each round, "alone": the same worker with its output
dropped inside the worker process (`--discard-output`), so no pickling, no pipe to the
node, no packaging. It is what decoding, scaling, encoding and the per-frame glue cost
by themselves: the least that any rearrangement of the hand-off and the packager
could bring ours down to.

    .venv/bin/python bench/transcode_ladder.py [--rounds 3] [--loops 3] [--floor]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import trio

from edge_node.channels import send_each
from edge_node.media import (
    AudioConfig,
    EncodedEvent,
    SourceConfig,
    SourceEnd,
    SourceEvent,
    SourcePacket,
    TrackKind,
    VideoConfig,
)
from edge_node.transcode.ladder import SourceVideo, plan_ladder
from edge_node.transcode.worker import TranscodeWorker
from shared.config import TranscodeSection

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testclip import source_clip

CLIP = source_clip()


@dataclass(frozen=True)
class Run:
    cpu: float  # CPU seconds per media second
    rtf: float  # media seconds per wall second
    sink: str
    parent: float = 0.0  # of `cpu`, what this process spent
    discontinuities: int = 0


@dataclass(frozen=True)
class Clip:
    events: list[SourceEvent]
    media_seconds: float


def cpu_seconds() -> tuple[float, float]:
    """(this process, its reaped children) in user+system seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def source_events(loops: int) -> Clip:
    """The clip `loops` times with rebased timestamps, as ingest would deliver it."""
    packets: list[SourcePacket] = []
    # Seconds, exact: the audio starts before the video, so the clip is longer than
    # its video and a loop by the video's length would step audio back in time.
    start: Fraction | None = None
    end = Fraction(0)
    with av.open(str(CLIP)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        config = SourceConfig(
            VideoConfig("h264", bytes(video.codec_context.extradata or b""), 1280, 720),
            AudioConfig("aac", bytes(audio.codec_context.extradata or b""), 48_000, 2),
        )
        for packet in container.demux(video, audio):
            if packet.dts is None or packet.time_base is None:
                continue
            tb = packet.time_base
            pts = packet.pts if packet.pts is not None else packet.dts
            start = min(pts * tb, start if start is not None else pts * tb)
            end = max(end, (pts + (packet.duration or 0)) * tb)
            kind: TrackKind = "video" if packet.stream.type == "video" else "audio"
            packets.append(
                SourcePacket(
                    kind,
                    round(packet.dts * tb * 1000) + 67,
                    round(pts * tb * 1000) + 67,
                    packet.is_keyframe,
                    bytes(packet),
                )
            )
    packets.sort(key=lambda p: p.dts)
    length = end - (start or 0)
    looped: list[SourceEvent] = [config]
    for i in range(loops):
        shift = round(i * length * 1000)
        looped += [replace(p, dts=p.dts + shift, pts=p.pts + shift) for p in packets]
    return Clip([*looped, SourceEnd("benchmark over")], float(loops * length))


ALONE = "output dropped in the worker"

Sink = Callable[[trio.MemoryReceiveChannel[EncodedEvent]], Awaitable[object]]


def make_sink(directory: Path) -> tuple[str, Sink, Callable[[], int]]:
    """The sink's name, its task and how many discontinuities it has seen so far."""
    try:
        from edge_node.package.packager import PackagerConfig, StreamPackager
    except ImportError as exc:
        print(f"note: packager not importable ({exc}); encoded output goes to a null sink")
        return "null sink", _null_sink, lambda: 0
    packager = StreamPackager("bench", directory, PackagerConfig())
    return "CMAF/LL-HLS packager", packager.run, lambda: packager.sequence().discontinuity_sequence


async def _null_sink(receive: trio.MemoryReceiveChannel[EncodedEvent]) -> None:
    async with receive:
        async for _ in receive:
            pass


async def _ours(events: list[SourceEvent], directory: Path, alone: bool) -> tuple[str, int]:
    # Fed faster than live, a worker slower than real time on a busy box would shed
    # renditions; the comparison needs the whole ladder every time.
    settings = TranscodeSection(shed_lag_seconds=1e9)
    worker = TranscodeWorker(settings, child_args=("--discard-output",) if alone else ())
    nothing: tuple[str, Sink, Callable[[], int]] = (ALONE, _null_sink, lambda: 0)
    sink_name, sink, discontinuities = nothing if alone else make_sink(directory)
    source_send, source_receive = trio.open_memory_channel[SourceEvent](64)
    out_send, out_receive = trio.open_memory_channel[EncodedEvent](256)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sink, out_receive)
        nursery.start_soon(worker.run, source_receive, out_send)
        async with source_send:
            # As ingest hands bursts over: a wait only while the worker's queue is full.
            await send_each(source_send, events)
    return sink_name, discontinuities()


def run_ours(clip: Clip, alone: bool = False) -> Run:
    directory = Path(tempfile.mkdtemp(prefix="ladder-ours-"))
    try:
        (own0, children0), wall0 = cpu_seconds(), time.perf_counter()
        sink, discontinuities = trio.run(_ours, clip.events, directory, alone)
        wall, (own1, children1) = time.perf_counter() - wall0, cpu_seconds()
        if sink not in ("null sink", ALONE) and not any(directory.rglob("*.m4s")):
            raise SystemExit("the packager wrote no segments; the run does not count")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    own, cpu = own1 - own0, own1 - own0 + children1 - children0
    media = clip.media_seconds
    return Run(cpu / media, media / wall, sink, own / media, discontinuities)


def ffmpeg_command(loops: int, out: Path) -> list[str]:
    plans = [
        p
        for p in plan_ladder(TranscodeSection().ladder, SourceVideo(1280, 720, 30.0))
        if not p.passthrough
    ]
    scales = ";".join(f"[s{i}]scale={p.width}:{p.height}[v{i}]" for i, p in enumerate(plans))
    split = f"[0:v]split={len(plans)}" + "".join(f"[s{i}]" for i in range(len(plans)))
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-stream_loop", str(loops - 1), "-i", str(CLIP)]
    command += ["-filter_complex", f"{split};{scales}", "-map", "0:v"]
    for i in range(len(plans)):
        command += ["-map", f"[v{i}]"]
    command += ["-map", "0:a"] * (len(plans) + 1)
    command += ["-c:v:0", "copy"]
    for i, p in enumerate(plans, start=1):
        command += [f"-c:v:{i}", "libx264", f"-profile:v:{i}", p.profile]
        command += [f"-b:v:{i}", str(p.video_bitrate), f"-maxrate:v:{i}", str(p.maxrate)]
        command += [f"-bufsize:v:{i}", str(p.bufsize)]
    command += ["-preset", "veryfast", "-tune", "zerolatency", "-bf", "0", "-g", "480"]
    command += ["-sc_threshold", "0", "-flags", "+cgop"]
    command += ["-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "copy"]
    streams = " ".join(f"v:{i},a:{i}" for i in range(len(plans) + 1))
    command += ["-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_list_size", "0"]
    command += ["-var_stream_map", streams, "-master_pl_name", "master.m3u8"]
    command += ["-hls_segment_filename", str(out / "%v" / "%d.m4s"), str(out / "%v" / "index.m3u8")]
    return command


def run_ffmpeg(loops: int, media_seconds: float) -> Run:
    directory = Path(tempfile.mkdtemp(prefix="ladder-ffmpeg-"))
    try:
        cpu0, wall0 = sum(cpu_seconds()), time.perf_counter()
        subprocess.run(ffmpeg_command(loops, directory), check=True)
        wall, cpu = time.perf_counter() - wall0, sum(cpu_seconds()) - cpu0
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return Run(cpu / media_seconds, media_seconds / wall, "fMP4 HLS files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", type=int, default=3, help="times the 10 s clip is fed")
    parser.add_argument(
        "--floor", action="store_true", help="also run the worker alone, its output dropped"
    )
    args = parser.parse_args()
    clip = source_events(args.loops)
    media = clip.media_seconds
    print(f"{media:.1f} s of 1280x720p30 media, ladder source + 480p/360p/160p, AAC passthrough")
    sides: dict[str, Callable[[], Run]] = {
        "ours": lambda: run_ours(clip),
        "ffmpeg": lambda: run_ffmpeg(args.loops, media),
    }
    if args.floor:
        sides["alone"] = lambda: run_ours(clip, alone=True)
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    for round_no in range(1, args.rounds + 1):
        # Alternate which side goes first so a noisy neighbour hurts both alike.
        order = list(sides)
        for name in order if round_no % 2 else order[::-1]:
            run = sides[name]()
            runs[name].append(run)
            detail = (
                f"parent {run.parent:.3f} s/s, discontinuities {run.discontinuities}, "
                if name == "ours"
                else ""
            )
            print(
                f"round {round_no} {name:6s} cpu {run.cpu:.3f} s/s  rtf {run.rtf:.2f}x"
                f"  ({detail}{run.sink})"
            )
    ours, theirs = runs["ours"], runs["ffmpeg"]
    cpu_ours = statistics.median(r.cpu for r in ours)
    cpu_ffmpeg = statistics.median(r.cpu for r in theirs)
    rtf_ours = statistics.median(r.rtf for r in ours)
    rtf_ffmpeg = statistics.median(r.rtf for r in theirs)
    parent = statistics.median(r.parent for r in ours)
    print(f"p50 ours   cpu {cpu_ours:.3f} s per media s, rtf {rtf_ours:.2f}x  -> {ours[0].sink}")
    print(f"p50 ours   parent process cpu {parent:.3f} s per media s")
    print(f"p50 ffmpeg cpu {cpu_ffmpeg:.3f} s per media s, rtf {rtf_ffmpeg:.2f}x")
    print(f"ratio cpu ours/ffmpeg {cpu_ours / cpu_ffmpeg:.2f}x (target <= 0.90)")
    print(f"ratio rtf ours/ffmpeg {rtf_ours / rtf_ffmpeg:.2f}x (target >= 1.20)")
    if runs.get("alone"):
        cpu_alone = statistics.median(r.cpu for r in runs["alone"])
        print(f"p50 alone  cpu {cpu_alone:.3f} s per media s ({ALONE})")
        print(f"ratio cpu alone/ffmpeg {cpu_alone / cpu_ffmpeg:.2f}x (the floor of ours)")


if __name__ == "__main__":
    main()
