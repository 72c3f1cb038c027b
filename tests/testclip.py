"""The project's own test clip, made on first use with Debian's `ffmpeg` and cached.

10 s of 1280x720p30 H.264 High at ~6 Mbit/s with a keyframe every 2 s (60 frames, no
scene-cut keyframes) and 2 B-frames (OBS's x264 default), AAC-LC 128 kbit/s 48 kHz
stereo, faststart MP4: what a broadcaster's encoder sends. The picture is testsrc2 with
seeded temporal noise so encoders get real work; one thread and bitexact flags make the
same bytes on the same ffmpeg, so the cache is only an optimisation.

Tests import `source_clip()` (tests/ is on pytest's path); the benchmarks add tests/ to
theirs. The clip lives in `.media/` at the repository's top (git-ignored).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".media"
NAME = "src720.mp4"

RECIPE = (
    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=6:allf=t:all_seed=12345",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
    "-threads", "1", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M",
    "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-bf", "2",
    "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
    "-movflags", "+faststart",
)  # fmt: skip


class MissingTool(RuntimeError):
    """A program the tests need is not installed (`./dev` installs it)."""


def source_clip() -> Path:
    """The path of the clip, made first if this checkout has none yet."""
    target = CACHE / NAME
    if target.exists():
        return target
    if shutil.which("ffmpeg") is None:
        raise MissingTool("the test clip is made with ffmpeg, which is not installed (./dev test)")
    CACHE.mkdir(exist_ok=True)
    # Parallel test processes may all ask at once: one makes it, the others wait.
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _make(target)
    return target


def _make(target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.mp4")
    try:
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *RECIPE, str(partial)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        partial.rename(target)  # atomic: a reader sees the whole clip or none
    finally:
        partial.unlink(missing_ok=True)
