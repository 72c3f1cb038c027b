"""Test media for the player pages, made once per module by the ffmpeg CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path


def two_rendition_hls(out: Path, seconds: float) -> Path:
    """A VOD fMP4 HLS ladder (640x360 and 320x180, 2 s GOPs, AAC) with `master.m3u8`."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-map", "0:v", "-map", "1:a", "-map", "0:v", "-map", "1:a",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
         "-filter:v:1", "scale=320:180", "-b:v:0", "800k", "-b:v:1", "300k",
         "-c:a", "aac", "-b:a", "96k",
         "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4",
         "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8",
         "-var_stream_map", "v:0,a:0 v:1,a:1",
         str(out / "stream_%v.m3u8")],
        check=True, timeout=120,
    )  # fmt: skip
    return out
