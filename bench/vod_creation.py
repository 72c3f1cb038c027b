"""VOD creation and clip cutting against the ffmpeg CLI doing the same remux (`-c copy`).

Content: ffmpeg encodes `--source-seconds` of testsrc2 + a tone once, as a 5-rendition
ladder (1280x720 to 256x144, 2 s GOPs, fMP4 segments named as our packager names them),
in a temporary directory. An hour of broadcast is that loop repeated (hard links, one
discontinuity per loop, as a broadcaster reconnecting would leave), so the hour costs
no encoding. Per round, alternating:

- ours, VOD: the recorder's disk steps (`edge_node.record.build`): hard-link every
  segment, write the VOD playlists, the top rendition as a faststart MP4 (sample
  tables from the segments' moofs, media read by the kernel into one buffer and
  written with O_DIRECT, nothing demuxed), poster + sprite sheets + WebVTT, publish;
- ffmpeg, VOD: `ffmpeg -c copy` of each rendition's playlist into a VOD HLS (fMP4) and
  of the top rendition into a faststart MP4;
- ours, clip: `cut_clip` of 30 s from a mid-GOP start (first partial GOP re-encoded);
- ffmpeg, clip: `ffmpeg -ss -t 30 -c copy` of the top rendition's playlist into an MP4
  (cuts at the keyframe before, so it is not frame-exact).

Wall and CPU seconds (ours: this process; ffmpeg: its children) are printed as p50
per hour of content, then clip latency p50/p95, then the ratios. Targets: under 2 s of
VOD creation per hour of 5-rendition content; clip p95 under 3 s for 30 s.

    .venv/bin/python bench/vod_creation.py [--rounds 3] [--hours 1] [--clips 10]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from edge_node.record import build
from edge_node.record.build import VodPaths
from edge_node.record.clip_cut import cut_clip
from edge_node.record.clip_range import plan_clip
from edge_node.record.journal import ORDER, Step
from edge_node.record.manifest import VodManifest, VodRendition, VodSegment
from edge_node.record.playlists import media_playlist

LADDER = (  # name, width, height, video kbit/s
    ("720p", 1280, 720, 3000),
    ("540p", 960, 540, 1800),
    ("360p", 640, 360, 900),
    ("240p", 426, 240, 450),
    ("144p", 256, 144, 200),
)
SEGMENT = 2.0
CLIP_SECONDS = 30.0


def encode_ladder(out: Path, seconds: float) -> None:
    """One ffmpeg run: the ladder as fMP4 HLS, `init.mp4` and `<n>.m4s` per rendition."""
    split = f"[0:v]split={len(LADDER)}" + "".join(f"[v{i}]" for i in range(len(LADDER)))
    scales = ";".join(f"[v{i}]scale={w}:{h}[s{i}]" for i, (_, w, h, _) in enumerate(LADDER))
    args = [
        "ffmpeg", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-filter_complex", f"{split};{scales}",
    ]  # fmt: skip
    for i, (name, _, _, kbps) in enumerate(LADDER):
        (out / name).mkdir(parents=True)
        args += [
            "-map", f"[s{i}]", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{kbps}k", "-g", "60",
            "-keyint_min", "60", "-sc_threshold", "0", "-bf", "0",
            "-c:a", "aac", "-b:a", "96k",
            "-f", "hls", "-hls_time", str(SEGMENT), "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(out / name / "%d.m4s"), str(out / name / "src.m3u8"),
        ]  # fmt: skip
    subprocess.run(args, check=True)


def build_hour(source: Path, live: Path, hours: float, loop_seconds: float) -> VodManifest:
    """`hours` of the loop as a stream's live directory, and the recorder's snapshot of it."""
    loop = int(loop_seconds / SEGMENT)
    total = int(hours * 3600 / SEGMENT)
    renditions = []
    for name, width, height, kbps in LADDER:
        (live / name).mkdir(parents=True)
        os.link(source / name / "init.mp4", live / name / "init.mp4")
        segments = []
        for msn in range(total):
            src = source / name / f"{msn % loop}.m4s"
            os.link(src, live / name / f"{msn}.m4s")
            size = src.stat().st_size
            segments.append(VodSegment(msn, SEGMENT, "init.mp4", msn % loop == 0, size))
        renditions.append(VodRendition(name, tuple(segments), width, height, kbps * 1000))
    master = "#EXTM3U\n#EXT-X-VERSION:6\n" + "".join(
        f"#EXT-X-STREAM-INF:BANDWIDTH={b},RESOLUTION={w}x{h}\n{n}/index.m3u8\n"
        for n, w, h, b in ((r.name, r.width, r.height, r.bandwidth) for r in renditions)
    )
    return VodManifest("st_bench", "st_bench", "bench", time.time(), master, tuple(renditions))


STEP_CPU: dict[Step, list[float]] = {}  # ours, CPU seconds per journal step


def ours_vod(manifest: VodManifest, live: Path, vod_root: Path) -> None:
    paths = VodPaths(vod_root, manifest.vod_id)
    build.write_snapshot(paths, manifest)
    for step in ORDER[1:]:
        if step is not Step.REPORT:
            before = time.process_time()
            build.run_step(step, paths, live)
            STEP_CPU.setdefault(step, []).append(time.process_time() - before)


def ffmpeg_vod(manifest: VodManifest, live: Path, out: Path) -> None:
    for rendition in manifest.renditions:
        playlist = live / rendition.name / "vod.m3u8"
        playlist.write_text(media_playlist(rendition))
        (out / rendition.name).mkdir(parents=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(playlist), "-c", "copy",
             "-f", "hls", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
             "-hls_time", str(SEGMENT), str(out / rendition.name / "index.m3u8")],
            check=True,
        )  # fmt: skip
    top = manifest.top()
    assert top is not None
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(live / top.name / "vod.m3u8"),
         "-c", "copy", "-movflags", "+faststart", str(out / "vod.mp4")],
        check=True,
    )  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(run: Callable[[], None], cpu: Callable[[], float]) -> tuple[float, float]:
    wall, before = time.perf_counter(), cpu()
    run()
    return time.perf_counter() - wall, cpu() - before


def vod_rounds(
    manifest: VodManifest, live: Path, tmp: Path, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "ffmpeg": []}
    for index in range(rounds):
        ours_root, peer_root = tmp / f"ours-{index}", tmp / f"ffmpeg-{index}"
        results["ours"].append(
            measure(functools.partial(ours_vod, manifest, live, ours_root), time.process_time)
        )
        results["ffmpeg"].append(
            measure(functools.partial(ffmpeg_vod, manifest, live, peer_root), children_cpu)
        )
        shutil.rmtree(ours_root)
        shutil.rmtree(peer_root)
    return results


def clip_rounds(manifest: VodManifest, live: Path, tmp: Path, clips: int) -> dict[str, list[float]]:
    top = manifest.top()
    assert top is not None
    playlist = live / top.name / "vod.m3u8"
    results: dict[str, list[float]] = {"ours": [], "ffmpeg": []}
    for index in range(clips):
        offset = 60.0 + index * 97.3 % (top.duration - 200)  # mid-GOP starts
        plan = plan_clip(top.segments, 0.0, offset, CLIP_SECONDS)
        out = tmp / f"clip-{index}.mp4"
        wall = time.perf_counter()
        cut_clip(live / top.name, plan, out)
        results["ours"].append(time.perf_counter() - wall)
        wall = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-ss", f"{offset:.3f}", "-i", str(playlist),
             "-t", str(CLIP_SECONDS), "-c", "copy", "-movflags", "+faststart", str(out)],
            check=True,
        )  # fmt: skip
        results["ffmpeg"].append(time.perf_counter() - wall)
    return results


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--source-seconds", type=float, default=120.0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vod-bench-") as name:
        tmp = Path(name)
        print(f"encoding a {options.source_seconds:g} s 5-rendition ladder ...", flush=True)
        encode_ladder(tmp / "source", options.source_seconds)
        manifest = build_hour(tmp / "source", tmp / "live", options.hours, options.source_seconds)
        size = sum(r.size for r in manifest.renditions) / 1e9
        print(f"{manifest.duration / 3600:g} h of content, {size:.2f} GB", flush=True)
        vods = vod_rounds(manifest, tmp / "live", tmp, options.rounds)
        clips = clip_rounds(manifest, tmp / "live", tmp, options.clips)
    per_hour = 3600.0 / manifest.duration
    print("\nVOD creation, per hour of content (p50 over rounds)")
    summary = {}
    for side, samples in vods.items():
        wall = statistics.median(w for w, _ in samples) * per_hour
        cpu = statistics.median(c for _, c in samples) * per_hour
        summary[side] = (wall, cpu)
        print(f"  {side:7s} wall {wall:7.2f} s   cpu {cpu:7.2f} s")
    steps = ", ".join(
        f"{step.value} {statistics.median(cpu) * per_hour:.2f}" for step, cpu in STEP_CPU.items()
    )
    print(f"  ours by step, cpu s: {steps}")
    print(f"\n{CLIP_SECONDS:g} s clip latency")
    for side, latencies in clips.items():
        p50 = statistics.median(latencies)
        print(f"  {side:7s} p50 {p50:6.3f} s   p95 {p95(latencies):6.3f} s")
    print("\nratios (ours / ffmpeg)")
    print(f"  VOD wall  {summary['ours'][0] / summary['ffmpeg'][0]:.2f}")
    print(f"  VOD cpu   {summary['ours'][1] / summary['ffmpeg'][1]:.2f}")
    print(f"  clip p95  {p95(clips['ours']) / p95(clips['ffmpeg']):.2f}")


if __name__ == "__main__":
    main()
