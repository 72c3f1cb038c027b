"""The TS demuxer: bytes in (a TS ffmpeg made from the test clip, and hand-built packets),
the RTMP path's media events out."""

from __future__ import annotations

import itertools
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testclip import source_clip

from edge_node.codecs import hevc_codec_string
from edge_node.ingest.mpegts import MediaRefused, TsDemuxer, TsEvent
from edge_node.ingest.mpegts._demux import PACKET_SIZE
from edge_node.ingest.mpegts._psi import crc32_mpeg2
from edge_node.ingest.rtmp import CodecConfig, Discontinuity, MediaPacket
from edge_node.ingest.source import SourceBridge
from edge_node.media import SourceConfig, SourcePacket

CLIP_VIDEO_FRAMES = 300
CLIP_AUDIO_FRAMES = 470  # AAC frames in the TS (the MP4's priming frame included)
SRT_MESSAGE = 7 * PACKET_SIZE


@cache
def clip_ts() -> bytes:
    """The test clip remuxed to MPEG-TS by ffmpeg, as an encoder's SRT output carries it."""
    target = source_clip().with_suffix(".ts")
    if not target.exists():
        partial = target.with_name(f".{target.name}.partial")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(source_clip()), "-c", "copy",
             "-f", "mpegts", str(partial)],
            check=True,
        )  # fmt: skip
        partial.rename(target)
    return target.read_bytes()


def demux(data: bytes, step: int = SRT_MESSAGE, **kwargs: int) -> tuple[list[TsEvent], TsDemuxer]:
    demuxer = TsDemuxer(**kwargs)
    events: list[TsEvent] = []
    for offset in range(0, len(data), step):
        events += demuxer.feed(data[offset : offset + step])
    return events + demuxer.flush(), demuxer


def packets(events: list[TsEvent], kind: str) -> list[MediaPacket]:
    return [e for e in events if isinstance(e, MediaPacket) and e.kind == kind]


def test_every_frame_of_an_ffmpeg_ts_with_its_configuration() -> None:
    events, demuxer = demux(clip_ts())
    assert demuxer.errors == 0
    video, audio = packets(events, "video"), packets(events, "audio")
    assert (len(video), len(audio)) == (CLIP_VIDEO_FRAMES, CLIP_AUDIO_FRAMES)
    configs = [e for e in events if isinstance(e, CodecConfig)]
    assert [(c.kind, c.codec) for c in configs] == [("video", "h264"), ("audio", "aac")]
    assert (configs[0].width, configs[0].height) == (1280, 720)
    assert configs[0].data[0] == 1 and configs[0].data[1] == 100  # avcC, High profile
    assert (configs[1].sample_rate, configs[1].channels) == (48000, 2)
    assert configs[1].data == bytes([0x11, 0x90])  # AAC-LC, 48 kHz, stereo
    # A keyframe every 2 s, the first frame one; B-frames: pts runs ahead of dts.
    assert [i for i, p in enumerate(video) if p.keyframe] == [0, 60, 120, 180, 240]
    assert any(p.pts > p.dts for p in video)
    # Milliseconds from 0, strictly increasing per track, 10 s long.
    for track in (video, audio):
        dts = [p.dts for p in track]
        assert dts == sorted(set(dts)) and 0 <= dts[0] < 100 and 9_900 < dts[-1] < 10_200
    # AVCC: 4-byte lengths that add up, no parameter sets or delimiters left in-band.
    for frame in video[:30]:
        pos, types = 0, []
        while pos < len(frame.data):
            length = int.from_bytes(frame.data[pos : pos + 4], "big")
            types.append(frame.data[pos + 4] & 0x1F)
            pos += 4 + length
        assert pos == len(frame.data) and not {7, 8, 9} & set(types)
    # Raw AAC: no ADTS header left.
    assert not any(p.data[:2] == b"\xff\xf1" for p in audio)


def test_the_bridge_makes_the_source_events_the_rtmp_path_makes() -> None:
    events, _ = demux(clip_ts())
    bridge = SourceBridge()
    out = [item for e in events if not isinstance(e, MediaRefused) for item in bridge.convert(e)]
    assert isinstance(out[0], SourceConfig) and out[0].video is not None
    assert out[0].video.codec == "h264"
    assert Counter(type(e).__name__ for e in out)["SourcePacket"] == 770
    later = [e for e in out[1:] if isinstance(e, SourceConfig)]
    # Audio is configured with its first frame, after the first video frame: no break.
    assert len(later) <= 1 and not any(isinstance(e, Discontinuity) for e in events)
    assert all(isinstance(e, SourcePacket | SourceConfig) for e in out)


@pytest.mark.parametrize("step", [1, 187, 188, 189, 4096, 1 << 22])
def test_any_split_gives_the_same_events(step: int) -> None:
    head = clip_ts()[: 400 * PACKET_SIZE]
    expected, _ = demux(head)
    got, _ = demux(head, step)
    assert got == expected


def test_garbage_between_packets_is_skipped_and_sync_found_again() -> None:
    data = clip_ts()[: 2000 * PACKET_SIZE]
    clean, _ = demux(data)
    dirty = data[: 100 * PACKET_SIZE] + b"\x00\x01garbage\x47\x00" + data[100 * PACKET_SIZE :]
    events, demuxer = demux(dirty)
    assert demuxer.errors > 0
    # The garbage sits between two packets: nothing of the media is lost.
    assert len(packets(events, "video")) == len(packets(clean, "video"))


def test_a_lost_packet_loses_only_its_frame() -> None:
    data = clip_ts()
    clean, _ = demux(data)
    video_pid = _pids(data)["video"]
    # Drop a packet from the middle of the clip that continues a video PES.
    index = next(
        i
        for i in range(len(data) // PACKET_SIZE // 2, len(data) // PACKET_SIZE)
        if _pid(data, i) == video_pid and not data[i * PACKET_SIZE + 1] & 0x40
    )
    lossy = data[: index * PACKET_SIZE] + data[(index + 1) * PACKET_SIZE :]
    events, demuxer = demux(lossy)
    assert demuxer.errors == 1
    assert len(packets(events, "video")) == len(packets(clean, "video")) - 1
    assert len(packets(events, "audio")) == len(packets(clean, "audio"))


def test_a_frame_past_max_pes_size_is_dropped() -> None:
    events, demuxer = demux(clip_ts(), max_pes_size=100_000)
    video = packets(events, "video")
    # The keyframes (~230 kB) go; the frames after them (the decoder will recover) stay.
    assert demuxer.errors >= 5 and not any(p.keyframe for p in video)
    assert all(len(p.data) <= 100_000 for p in video) and len(video) > 200


@cache
def hevc_clip(tmp: Path) -> tuple[bytes, bytes, int]:
    """A second of HEVC made by ffmpeg: the TS, the hvcC ffmpeg writes into an MP4 of the
    same stream, and its frame count."""
    mp4, ts = tmp / "hevc.mp4", tmp / "hevc.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
         "-t", "1", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
         "-g", "15", "-bf", "2", str(mp4)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(mp4), "-c", "copy", str(ts)], check=True
    )
    with av.open(str(mp4)) as container:
        record = bytes(container.streams.video[0].codec_context.extradata or b"")
    return ts.read_bytes(), record, 30


def test_hevc_becomes_an_hvcc_record_and_frames_a_decoder_takes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if (
        "libx265"
        not in subprocess.run(
            ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True
        ).stdout
    ):
        pytest.skip("this ffmpeg has no libx265")
    ts, ffmpeg_record, frames = hevc_clip(tmp_path_factory.mktemp("hevc"))
    events, demuxer = demux(ts)
    assert demuxer.errors == 0
    configs = [e for e in events if isinstance(e, CodecConfig) and e.kind == "video"]
    assert len(configs) == 1 and configs[0].codec == "hevc"
    record = configs[0].data
    # Profile, tier, level, constraints, chroma, depths, layers, length size: as ffmpeg's.
    assert record[:22] == ffmpeg_record[:22]
    assert hevc_codec_string(record) == hevc_codec_string(ffmpeg_record)
    video = packets(events, "video")
    assert len(video) == frames and video[0].keyframe
    decoder = av.CodecContext.create("hevc", "r")
    decoder.extradata = record
    pictures = [p for frame in video for p in decoder.decode(av.Packet(frame.data))]
    pictures += decoder.decode(None)
    assert len(pictures) == frames and (pictures[0].width, pictures[0].height) == (320, 180)


def _section(table_id: int, body: bytes) -> bytes:
    # syntax indicator, length (incl. the 5 bytes after it and the CRC), id, version, numbers
    head = bytes([table_id]) + (0xB000 | (len(body) + 9)).to_bytes(2, "big")
    section = head + b"\x00\x01\xc1\x00\x00" + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")


def _ts(pid: int, payload: bytes, cc: int = 0, start: bool = True) -> bytes:
    header = bytes([0x47, (0x40 if start else 0) | pid >> 8, pid & 0xFF, 0x10 | cc])
    return (header + payload).ljust(PACKET_SIZE, b"\xff")


def _program(video_type: int, audio_type: int = 0x0F) -> bytes:
    pat = _ts(0, b"\x00" + _section(0x00, b"\x00\x01\xf0\x00"))
    streams = bytes([video_type, 0xE1, 0x00, 0xF0, 0x00, audio_type, 0xE1, 0x01, 0xF0, 0x00])
    pmt = _ts(0x1000, b"\x00" + _section(0x02, b"\xe1\x00\xf0\x00" + streams))
    return pat + pmt


@pytest.mark.parametrize(
    ("video", "audio", "named"),
    [
        (0x02, 0x0F, "mpeg2-video"),
        (0x10, 0x0F, "mpeg4-video"),
        (0x1B, 0x03, "mp3"),
        (0x1B, 0x81, "ac3"),
    ],
)
def test_codecs_we_do_not_take_are_refused_by_name(video: int, audio: int, named: str) -> None:
    demuxer = TsDemuxer()
    events = demuxer.feed(_program(video, audio))
    assert len(events) == 1 and isinstance(events[0], MediaRefused)
    assert named in events[0].reason and demuxer.refused
    assert demuxer.feed(clip_ts()[:100_000]) == []


def test_a_damaged_pmt_is_ignored() -> None:
    program = bytearray(_program(0x02))
    program[PACKET_SIZE + 20] ^= 0xFF  # inside the PMT: its CRC no longer matches
    demuxer = TsDemuxer()
    assert demuxer.feed(bytes(program)) == [] and demuxer.errors == 1


def _pid(data: bytes, index: int) -> int:
    offset = index * PACKET_SIZE
    return ((data[offset + 1] & 0x1F) << 8) | data[offset + 2]


def _pids(data: bytes) -> dict[str, int]:
    demuxer = TsDemuxer()
    demuxer.feed(data[: 50 * PACKET_SIZE])
    program = demuxer._program
    assert program is not None and program.video and program.audio
    return {"video": program.video.pid, "audio": program.audio.pid}


# ------------------------------------------------------------------------ fuzz

FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
MAX_PES = 64 * 1024


def _check(pieces: list[bytes]) -> None:
    """Never an exception; never more held than one partial packet, the PSI sections and
    two frames of at most MAX_PES; frames within the bound."""
    demuxer = TsDemuxer(max_pes_size=MAX_PES)
    events: list[TsEvent] = []
    for piece in pieces:
        events += demuxer.feed(piece)
        assert len(demuxer._buffer) <= PACKET_SIZE
        assert len(demuxer._pes) <= 2 and len(demuxer._sections) <= 2
        assert all(len(p.data) <= MAX_PES for p in demuxer._pes.values())
    events += demuxer.flush()
    for event in events:
        assert isinstance(event, CodecConfig | MediaPacket | Discontinuity | MediaRefused)
        if isinstance(event, MediaPacket):
            assert len(event.data) <= MAX_PES and event.dts >= 0


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@FUZZ
@given(st.binary(max_size=4096), st.lists(st.integers(0, 4096), max_size=8))
def test_random_bytes(data: bytes, cuts: list[int]) -> None:
    _check(_splits(data, cuts))


def _pes_start(pts: int, body: bytes) -> bytes:
    """A PES header with a PTS, then `body` behind a start code (a NAL unit, or ADTS)."""
    stamp = bytes(
        [0x21 | (pts >> 29) & 0x0E, pts >> 22 & 0xFF, (pts >> 14) & 0xFE | 1, pts >> 7 & 0xFF]
    ) + bytes([(pts << 1) & 0xFE | 1])
    return b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + stamp + b"\x00\x00\x01" + body


@FUZZ
@given(
    st.sampled_from([0x1B, 0x24]),
    st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, (1 << 33) - 1), st.binary()),
        max_size=40,
    ),
)
def test_random_frames_in_valid_packets_on_the_program_pids(
    video_type: int, items: list[tuple[int, bool, int, bytes]]
) -> None:
    """Well-formed packets and PES headers around random elementary stream bytes: the
    H.264, HEVC and ADTS parsers see garbage, with timestamps anywhere."""
    stream = _program(video_type)
    counters = {0x100: 0, 0x101: 0, 0x1FFF: 0, 0x1000: 1}
    for target, start, pts, body in items:
        pid = (0x100, 0x101, 0x1FFF, 0x1000)[target]
        payload = (_pes_start(pts, body) if start else body)[:184]
        stream += _ts(pid, payload, cc=counters[pid] & 0x0F, start=start)
        counters[pid] += 1
    _check([stream])


@FUZZ
@given(
    st.integers(0, 600),
    st.lists(st.tuples(st.integers(0, 64 * PACKET_SIZE - 1), st.integers(0, 255)), max_size=40),
    st.lists(st.integers(0, 64 * PACKET_SIZE), max_size=8),
)
def test_mutations_of_the_clip(start: int, flips: list[tuple[int, int]], cuts: list[int]) -> None:
    data = bytearray(clip_ts()[start * PACKET_SIZE : (start + 64) * PACKET_SIZE])
    if not data:
        return
    for offset, value in flips:
        data[offset % len(data)] = value
    _check(_splits(bytes(data), cuts))


def test_clip_ts_is_cached_next_to_the_clip() -> None:
    assert Path(source_clip().with_suffix(".ts")).exists() or clip_ts()
