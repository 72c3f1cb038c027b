"""fMP4 -> progressive MP4 tables, bytes in and bytes out: segments made by our own CMAF
writer, the header checked box by box, the whole file decoded by PyAV."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import struct
from fractions import Fraction

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.media import TrackInfo
from edge_node.package.cmaf import Sample, Track, TrackRun, chunk, init_segment, segment_type
from edge_node.package.cmaf.boxes import box, full_box
from edge_node.package.cmaf.progressive import (
    Chunk,
    InitTrack,
    MediaRun,
    MediaSegment,
    header,
    read_init,
    read_moof,
)
from edge_node.package.cmaf.reader import Box, BoxError, box_header, iter_boxes, walk
from tests.edge_node.package.conftest import traf_children

AVCC = bytes.fromhex("01640028ffe1000a6764002846a1e0a6fa27010005") + bytes.fromhex("68ee3cb0")
VIDEO = TrackInfo("video", 90000, "avc1.640028", AVCC, 1280, 720, 30.0)
AUDIO = TrackInfo("audio", 48000, "mp4a.40.2", bytes.fromhex("1190"), sample_rate=48000, channels=2)
FRAME = 3000  # 30 fps at 90 kHz
AAC = 1024


def _segment(sequence: int, video_start: int, audio_start: int, frames: int) -> bytes:
    """styp + one chunk per 2 frames; video with B-frame-like composition offsets."""
    out = [segment_type()]
    for first in range(0, frames, 2):
        video = [
            Sample(FRAME, bytes([sequence, first + i]) * 50, first + i == 0, (i + 1) * FRAME)
            for i in range(2)
        ]
        audio = [Sample(AAC, bytes([0xA0 | sequence, first]) * 9) for _ in range(3)]
        runs = [
            TrackRun(1, video_start + first * FRAME, video),
            TrackRun(2, audio_start + first // 2 * 3 * AAC, audio),
        ]
        out.append(chunk(sequence * 100 + first, runs))
    return b"".join(out)


def _index(data: bytes, tracks: tuple[InitTrack, ...]) -> MediaSegment:
    """What the recorder's reader finds in a segment file, from its bytes."""
    by_id = {t.track_id: t for t in tracks}
    chunks: list[Chunk] = []
    payloads = []
    pos = 0
    while pos < len(data):
        kind, head, length = box_header(data[pos : pos + 16], len(data) - pos)
        if kind == b"moof":
            chunks.extend(read_moof(data[pos : pos + length], pos, by_id))
        elif kind == b"mdat":
            payloads.append((pos + head, length - head))
        pos += length
    return MediaSegment(tuple(chunks), tuple(payloads))


def _file(runs: list[tuple[bytes, list[bytes]]], declared: Fraction) -> tuple[bytes, bytes]:
    """(header, whole file) for runs of (init, segments), each declared `declared` s."""
    media_runs = []
    for init, segments in runs:
        tracks = read_init(init)
        media_runs.append(MediaRun(tracks, tuple(_index(s, tracks) for s in segments), declared))
    head = header(media_runs)
    body = [
        data[position : position + length]
        for (_, segments), run in zip(runs, media_runs, strict=True)
        for data, segment in zip(segments, run.segments, strict=True)
        for position, length in segment.payloads
    ]
    return head, head + b"".join(body)


def _boxes(head: bytes, kind: bytes) -> list[Box]:
    """Boxes of the header, less the mdat header (its payload is not there)."""
    moov_end = len(head) - (16 if head[-12:-8] == b"mdat" else 8)
    return [b for _, b in walk(head[:moov_end]) if b.kind == kind]


def _table(b: Box, fmt: str) -> list[tuple[int, ...]]:
    (count,) = struct.unpack_from(">I", b.payload, 4)
    size = struct.calcsize(">" + fmt)
    return [struct.unpack_from(">" + fmt, b.payload, 8 + i * size) for i in range(count)]


def test_one_run_header_box_by_box() -> None:
    init = init_segment([Track(1, VIDEO, skip=FRAME), Track(2, AUDIO, skip=AAC)])
    segments = [_segment(1, 0, 0, 4), _segment(2, 4 * FRAME, 6 * AAC, 4)]
    head, whole = _file([(init, segments)], Fraction(4, 30))

    assert [b.kind for b in iter_boxes(whole)] == [b"ftyp", b"moov", b"mdat"]
    mdat_at = len(head) - 8
    assert struct.unpack_from(">I", head, mdat_at)[0] == len(whole) - mdat_at
    video, audio = _boxes(head, b"stbl")
    assert _table(video.child(b"stts"), "II") == [(8, FRAME)]
    assert _table(video.child(b"ctts"), "II") == [(1, FRAME), (1, 2 * FRAME)] * 4
    assert _table(video.child(b"stss"), "I") == [(1,), (5,)]
    assert _table(video.child(b"stsc"), "III") == [(1, 2, 1)]
    assert _table(audio.child(b"stsc"), "III") == [(1, 3, 1)]
    assert _table(audio.child(b"stts"), "II") == [(12, AAC)]
    assert [b.kind for b in audio.children()] == [b"stsd", b"stts", b"stsc", b"stsz", b"stco"]
    # The chunks alternate video, audio in the one mdat, in the segments' order.
    video_offsets = [o for (o,) in _table(video.child(b"stco"), "I")]
    audio_offsets = [o for (o,) in _table(audio.child(b"stco"), "I")]
    assert whole[video_offsets[0] : video_offsets[0] + 2] == bytes([1, 0])
    assert whole[audio_offsets[3] : audio_offsets[3] + 2] == bytes([0xA2, 2])
    assert video_offsets[0] < audio_offsets[0] < video_offsets[1] < audio_offsets[1]
    # Edit lists hide the first frame's composition delay and the AAC priming.
    edits = [_table(e, "IiHH") for e in _boxes(head, b"elst")]
    # The last frame is shown at 8 frames + its offset of 2: 10 frames, less the 1 hidden.
    assert edits[0] == [(300, FRAME, 1, 0)]
    assert edits[1][0][1] == AAC
    # Every sample's bytes are where the tables say (keyframes: stss above; the
    # demuxer's flags come from parsing the data, which is not real H.264 here).
    with av.open(io.BytesIO(whole), "r", format="mp4") as container:
        packets = [p for p in container.demux(video=0) if p.size]
        assert [bytes(p)[:2] for p in packets] == [
            bytes([seq, i]) for seq in (1, 2) for i in range(4)
        ]


def test_runs_continue_and_new_codec_config_gets_its_own_entry() -> None:
    first = init_segment([Track(1, VIDEO), Track(2, AUDIO)])
    small = dataclasses.replace(VIDEO, width=640, height=360)
    second = init_segment([Track(1, small), Track(2, AUDIO)])
    # The second run's clock is far away (a new broadcaster session): it starts where
    # the first run's declared duration ends.
    far = 90_000 * 1000
    runs = [
        (first, [_segment(1, 0, 0, 4)]),
        (second, [_segment(2, far, far // 90_000 * 48_000, 4)]),
    ]
    head, whole = _file(runs, Fraction(4 * FRAME, 90_000))
    video, audio = _boxes(head, b"stbl")
    assert struct.unpack_from(">I", video.child(b"stsd").payload, 4)[0] == 2
    assert _table(video.child(b"stsc"), "III") == [(1, 2, 1), (3, 2, 2)]
    assert _table(video.child(b"stts"), "II") == [(8, FRAME)]
    # 6 audio frames (0.128 s) in a run declared 0.1333 s: the gap goes to the last frame.
    gap = round(4 * FRAME / 90_000 * 48_000) - 6 * AAC
    assert _table(audio.child(b"stts"), "II") == [(5, AAC), (1, AAC + gap), (6, AAC)]
    assert len(whole) > len(head)


def test_audio_longer_than_its_run_pushes_the_next_run_back() -> None:
    init = init_segment([Track(1, VIDEO), Track(2, AUDIO)])
    runs = [(init, [_segment(1, 0, 0, 4)]), (init, [_segment(2, 0, 0, 4)])]
    head, _ = _file(runs, Fraction(1, 10))  # shorter than either track's media
    video, audio = _boxes(head, b"stbl")
    assert _table(video.child(b"stts"), "II") == [(8, FRAME)]  # 4 frames > 0.1 s: no gap
    assert _table(audio.child(b"stts"), "II") == [(12, AAC)]


def test_audio_timescale_change_is_rescaled() -> None:
    init = init_segment([Track(1, VIDEO), Track(2, AUDIO)])
    slow = dataclasses.replace(AUDIO, timescale=24_000, sample_rate=24_000)
    other = init_segment([Track(1, VIDEO), Track(2, slow)])
    runs = [(init, [_segment(1, 0, 0, 2)]), (other, [_segment(2, 0, 0, 2)])]
    head, _ = _file(runs, Fraction(3 * AAC, 48_000))
    _, audio = _boxes(head, b"stbl")
    # 1024 ticks at 24 kHz are 2048 at the first run's 48 kHz; two sample entries.
    assert _table(audio.child(b"stts"), "II") == [(3, AAC), (3, 2 * AAC)]
    assert struct.unpack_from(">I", audio.child(b"stsd").payload, 4)[0] == 2


def test_offsets_past_4_gib_use_co64_and_a_large_mdat() -> None:
    init = init_segment([Track(1, VIDEO)])
    tracks = read_init(init)
    big = 5 << 30
    samples = (Chunk(1, 1, 0, 100, (FRAME,), (10,), (0,), ()),)  # in a 5 GiB mdat
    last = (Chunk(1, 1, FRAME, 100, (FRAME,), (10,), (0,), ()),)
    segments = (MediaSegment(samples, ((100, big),)), MediaSegment(last, ((100, 10),)))
    head = header([MediaRun(tracks, segments, Fraction(1, 15))])
    assert _boxes(head, b"stco") == []
    offsets = _table(_boxes(head, b"co64")[0], "Q")
    assert offsets == [(len(head),), (len(head) + big,)]
    assert head[-16:] == struct.pack(">I4sQ", 1, b"mdat", 16 + big + 10)


def test_moof_data_positions_follow_tfhd_and_trun() -> None:
    tracks = {t.track_id: t for t in read_init(init_segment([Track(1, VIDEO), Track(2, AUDIO)]))}
    tfhd_video = full_box(b"tfhd", 0, 0x08, struct.pack(">II", 1, FRAME))  # default duration
    runs = (
        full_box(b"trun", 0, 0x001 | 0x200, struct.pack(">Ii2I", 2, 100, 10, 20)),
        full_box(b"trun", 0, 0x200, struct.pack(">II", 1, 5)),  # no offset: follows
    )
    video = box(b"traf", tfhd_video, full_box(b"tfdt", 0, 0, struct.pack(">I", 900)), *runs)
    # No base in tfhd and not base-is-moof: the second traf's data follow the first's.
    tfhd_audio = full_box(b"tfhd", 0, 0x08 | 0x10, struct.pack(">III", 2, AAC, 7))
    audio = box(b"traf", tfhd_audio, full_box(b"trun", 0, 0, struct.pack(">I", 2)))
    moof = box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", 1)), video, audio)
    chunks = read_moof(moof, 1000, tracks)
    assert [(c.track_id, c.decode_time, c.position, c.sizes) for c in chunks] == [
        (1, 900, 1100, (10, 20)),
        (1, 900 + 2 * FRAME, 1130, (5,)),
        (2, 0, 1135, (7, 7)),
    ]
    # An explicit base in tfhd wins over both.
    based = box(b"traf", full_box(b"tfhd", 0, 0x01, struct.pack(">IQ", 2, 5000)), runs[0])
    moof = box(b"moof", video, based)
    assert read_moof(moof, 1000, tracks)[-1].position == 5100
    stranger = box(b"traf", full_box(b"tfhd", 0, 0, struct.pack(">I", 9)), runs[0])
    with pytest.raises(BoxError):
        read_moof(box(b"moof", stranger), 0, tracks)


@settings(max_examples=500, deadline=None)
@given(st.lists(traf_children(), max_size=3), st.binary(max_size=64))
def test_arbitrary_moofs_raise_only_box_errors(trafs: list[list[bytes]], garbage: bytes) -> None:
    tracks = {t.track_id: t for t in read_init(init_segment([Track(1, VIDEO), Track(2, AUDIO)]))}
    for payload in (b"".join(box(b"traf", *children) for children in trafs), garbage):
        with contextlib.suppress(BoxError):
            read_moof(struct.pack(">I4s", 8 + len(payload), b"moof") + payload, 0, tracks)


@given(st.data())
def test_mutated_init_segments_raise_only_box_errors(data: st.DataObject) -> None:
    init = bytearray(init_segment([Track(1, VIDEO), Track(2, AUDIO)]))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(init) - 1))
        init[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(init)))
    with contextlib.suppress(BoxError):
        read_init(bytes(init[:cut]))


def _without(data: bytes, kind: bytes) -> bytes:
    """`data` (boxes) with every `kind` box removed, at any depth, sizes fixed up."""
    out = []
    for b in iter_boxes(data):
        if b.kind == kind:
            continue
        if b.kind in (b"moov", b"trak", b"mdia", b"minf"):
            out.append(box(b.kind, _without(bytes(b.payload), kind)))
        else:
            out.append(b.whole())
    return b"".join(out)


@pytest.mark.parametrize(
    "init",
    [
        box(b"moov", full_box(b"mvhd", 0, 0)),  # a header cut short of its timescale
        _without(init_segment([Track(1, VIDEO)]), b"vmhd"),  # no media header
    ],
    ids=["short-mvhd", "no-media-header"],
)
def test_malformed_init_segments_raise_box_errors(init: bytes) -> None:
    with pytest.raises(BoxError):
        read_init(init)
