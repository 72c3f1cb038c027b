"""The CMAF writer, box by box: parse back with our reader, decode with ffprobe and PyAV."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from enhanced_media import encode_flv, video_tag_bodies
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.codecs import video_codec_string
from edge_node.ingest.rtmp._media import parse_video
from edge_node.media import EncodedSample, TrackInfo
from edge_node.package.cmaf import (
    Sample,
    Track,
    TrackRun,
    aac_codec_string,
    avc_codec_string,
    chunk,
    init_segment,
    parse_asc,
    segment_type,
    track_codec_string,
)
from edge_node.package.cmaf.boxes import box, full_box
from edge_node.package.cmaf.flags import NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS
from edge_node.package.cmaf.reader import decoder_config, iter_boxes, parse_traf, walk

AVCC = bytes.fromhex("01640028ffe1000a6764002846a1e0a6fa27010005") + bytes.fromhex("68ee3cb0")
ASC_LC_48K_STEREO = bytes.fromhex("1190")
VIDEO = TrackInfo("video", 90000, "avc1.640028", AVCC, 1280, 720, 30.0)
AUDIO = TrackInfo("audio", 48000, "mp4a.40.2", ASC_LC_48K_STEREO, sample_rate=48000, channels=2)


def test_box_and_full_box_headers() -> None:
    assert box(b"free", b"ab", b"c") == b"\x00\x00\x00\x0bfreeabc"
    assert full_box(b"mfhd", 1, 0x020000, b"") == b"\x00\x00\x00\x0cmfhd\x01\x02\x00\x00"
    with pytest.raises(ValueError):
        box(b"toolong", b"")


def test_codec_strings() -> None:
    assert avc_codec_string(AVCC) == "avc1.640028"
    assert aac_codec_string(ASC_LC_48K_STEREO) == "mp4a.40.2"
    assert parse_asc(ASC_LC_48K_STEREO).sample_rate == 48000
    assert parse_asc(ASC_LC_48K_STEREO).channels == 2
    # HE-AAC (object type 5) at 24 kHz signalled by index, mono.
    assert aac_codec_string(bytes([(5 << 3) | (6 >> 1), ((6 & 1) << 7) | (1 << 3)])) == "mp4a.40.5"
    # Escaped object type 31 + 6 bits, explicit 24-bit sample rate.
    escaped = int("111110000101111" + format(22050, "024b") + "0010" + "000", 2)
    asc = (escaped << 2).to_bytes(6, "big")  # 46 bits, left-aligned
    assert parse_asc(asc).object_type == 34 and parse_asc(asc).sample_rate == 22050
    with pytest.raises(ValueError):
        parse_asc(b"\x11")
    with pytest.raises(ValueError):
        avc_codec_string(b"\x00\x64")


def test_init_segment_structure() -> None:
    data = init_segment([Track(1, VIDEO), Track(2, AUDIO, skip=1024)])
    top = [b.kind for b in iter_boxes(data)]
    assert top == [b"ftyp", b"moov"]
    ftyp = next(iter_boxes(data))
    assert bytes(ftyp.payload[:4]) == b"iso6" and b"cmfc" in bytes(ftyp.payload)
    kinds = [(d, b.kind) for d, b in walk(data)]
    for expected in (
        b"mvhd",
        b"tkhd",
        b"mdhd",
        b"hdlr",
        b"vmhd",
        b"smhd",
        b"dref",
        b"stsd",
        b"stts",
        b"stsc",
        b"stsz",
        b"stco",
        b"trex",
        b"elst",
    ):
        assert any(k == expected for _, k in kinds), expected
    moov = list(iter_boxes(data))[1]
    traks = [b for b in moov.children() if b.kind == b"trak"]
    assert len(traks) == 2
    tkhd_ids = [struct.unpack_from(">I", t.child(b"tkhd").payload, 12)[0] for t in traks]
    assert tkhd_ids == [1, 2]
    # Only the audio track has an edit list, skipping its priming samples.
    assert not any(b.kind == b"edts" for b in traks[0].children())
    elst = traks[1].child(b"edts").child(b"elst")
    assert struct.unpack_from(">IIiHH", elst.payload, 4) == (1, 0, 1024, 1, 0)
    mdhd = traks[1].child(b"mdia").child(b"mdhd")
    assert struct.unpack_from(">I", mdhd.payload, 12)[0] == 48000
    # The codec configuration is carried byte for byte.
    assert box(b"avcC", AVCC) in data
    assert ASC_LC_48K_STEREO in bytes(traks[1].payload)
    trex_ids = [
        struct.unpack_from(">I", b.payload, 4)[0] for d, b in walk(data) if b.kind == b"trex"
    ]
    assert trex_ids == [1, 2]
    with pytest.raises(ValueError):
        init_segment([])


def test_chunk_runs_point_at_their_samples() -> None:
    video = [Sample(3000, b"K" * 50, True, 3000), Sample(3000, b"p" * 20, False, -3000)]
    audio = [Sample(1024, b"a" * 7), Sample(1024, b"b" * 9)]
    data = chunk(7, [TrackRun(1, 90000, video), TrackRun(2, 48000, audio), TrackRun(3, 0, [])])
    moof, mdat = list(iter_boxes(data))
    assert (moof.kind, mdat.kind) == (b"moof", b"mdat")
    assert struct.unpack_from(">I", moof.child(b"mfhd").payload, 4)[0] == 7
    fragments = [parse_traf(b) for b in moof.children() if b.kind == b"traf"]
    assert [f.track_id for f in fragments] == [1, 2]
    assert fragments[0].base_decode_time == 90000 and fragments[1].base_decode_time == 48000
    assert all(f.base_is_moof and f.base_data_offset is None for f in fragments)
    (v,), (a,) = (f.runs for f in fragments)
    assert v.durations == (3000, 3000) and v.sizes == (50, 20)
    assert v.flags == (SYNC_SAMPLE_FLAGS, NON_SYNC_SAMPLE_FLAGS)
    assert v.composition_offsets == (3000, -3000)
    assert a.composition_offsets == ()  # no cto column when every offset is zero
    assert v.data_offset is not None and a.data_offset is not None
    assert data[v.data_offset : v.data_offset + 70] == b"K" * 50 + b"p" * 20
    assert data[a.data_offset : a.data_offset + 16] == b"a" * 7 + b"b" * 9
    with pytest.raises(ValueError):
        chunk(1, [TrackRun(1, 0, [])])


def test_segment_type_is_styp() -> None:
    (styp,) = list(iter_boxes(segment_type()))
    assert styp.kind == b"styp" and bytes(styp.payload[:4]) == b"msdh"


samples_st = st.lists(
    st.builds(
        Sample,
        st.integers(1, 2**31),
        st.binary(max_size=64),
        st.booleans(),
        st.integers(-(2**31), 2**31 - 1),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(0, 2**32 - 1), base=st.integers(0, 2**64 - 1), samples=samples_st)
def test_chunk_round_trips(seq: int, base: int, samples: list[Sample]) -> None:
    data = chunk(seq, [TrackRun(1, base, samples)])
    moof, mdat = list(iter_boxes(data))
    fragment = parse_traf(moof.child(b"traf"))
    assert fragment.base_decode_time == base
    (run,) = fragment.runs
    assert run.durations == tuple(s.duration for s in samples)
    assert run.sizes == tuple(len(s.data) for s in samples)
    if any(s.composition_offset for s in samples):
        assert run.composition_offsets == tuple(s.composition_offset for s in samples)
    assert bytes(mdat.payload) == b"".join(s.data for s in samples)


def _fragmented_file(
    clip_samples: list, video: TrackInfo | None, audio: TrackInfo | None, skip: int
) -> bytes:
    """A plain fMP4: init + one chunk per second of samples, as the packager would cut."""
    tracks = []
    if video:
        tracks.append(Track(1, video))
    if audio:
        tracks.append(Track(len(tracks) + 1, audio, skip=skip))
    out = [init_segment(tracks), segment_type()]
    vs = [s for s in clip_samples if s.kind == "video"]
    aus = [s for s in clip_samples if s.kind == "audio"]
    a0 = aus[0].dts if aus else 0
    for n in range(0, 10):
        runs = []
        vpart = [s for s in vs if n * 90000 <= s.dts < (n + 1) * 90000]
        apart = [s for s in aus if n * 48000 <= s.dts - a0 < (n + 1) * 48000]
        if vpart:
            runs.append(
                TrackRun(
                    1,
                    vpart[0].dts,
                    [Sample(s.duration, s.data, s.keyframe, s.pts - s.dts) for s in vpart],
                )
            )
        if apart:
            runs.append(
                TrackRun(
                    len(tracks), apart[0].dts - a0, [Sample(s.duration, s.data) for s in apart]
                )
            )
        if runs:
            out.append(chunk(n + 1, runs))
    return b"".join(out)


def ffprobe_errors(path: Path) -> str:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stderr.strip()


def test_real_clip_decodes_cleanly(tmp_path: Path, make_clip: Callable) -> None:
    clip = make_clip(3.0)
    assert clip.audio is not None and clip.video is not None
    first_audio = next(s for s in clip.samples if s.kind == "audio")
    priming = -first_audio.dts
    assert priming == 1024  # the AAC encoder's delay, hidden by the edit list
    path = tmp_path / "clip.mp4"
    path.write_bytes(_fragmented_file(list(clip.samples), clip.video, clip.audio, priming))
    assert ffprobe_errors(path) == ""
    with av.open(str(path)) as container:
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        assert vstream.codec_context.width == 320
        frames = {"video": 0, "audio": 0}
        first_pts: dict[str, float] = {}
        for frame in container.decode(vstream, astream):
            assert isinstance(frame, av.VideoFrame | av.AudioFrame)
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            frames[kind] += 1
            if kind not in first_pts and frame.pts is not None and frame.time_base is not None:
                first_pts[kind] = float(frame.pts * frame.time_base)
    assert frames["video"] == 90
    assert frames["audio"] >= 140
    # Audio and video both start at zero: the priming samples are edited out.
    assert abs(first_pts["video"] - first_pts["audio"]) < 0.03


@pytest.mark.parametrize(("codec", "entry"), [("hevc", b"hvc1"), ("av1", b"av01")])
def test_passthrough_hevc_and_av1_decode(tmp_path: Path, codec: str, entry: bytes) -> None:
    """What an Enhanced RTMP publisher sends, packaged as the passthrough rendition is."""
    bodies = video_tag_bodies(encode_flv(tmp_path / "source.flv", codec, 30))
    record, samples = b"", []
    for stamp, body in bodies:
        parsed = parse_video(body)
        if parsed is None:
            continue
        if parsed.config:
            record = parsed.data
            continue
        pts = stamp + parsed.composition_offset
        samples.append(
            EncodedSample(
                "source", "video", stamp * 90, pts * 90, 3600, parsed.keyframe, parsed.data
            )
        )
    info = TrackInfo("video", 90000, video_codec_string(codec, record), record, 320, 240, 25.0)
    assert track_codec_string(info) == info.codec_string
    init = init_segment([Track(1, info)])
    (stsd,) = [b for _, b in walk(init) if b.kind == b"stsd"]
    # stsd: version/flags, entry_count, then the one sample entry box.
    assert decoder_config(bytes(stsd.payload[8:])) == (entry, record)
    path = tmp_path / "source.mp4"
    path.write_bytes(_fragmented_file(samples, info, None, 0))
    if codec == "hevc":
        assert ffprobe_errors(path) == ""  # Debian's FFmpeg as a second opinion
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name in {codec, "libdav1d"}
    assert len(frames) == 30 and (frames[0].width, frames[0].height) == (320, 240)
