"""Fragmented MP4 -> one progressive, faststart MP4, as tables only.

Pure: bytes in, bytes out. The caller hands in init segments (`read_init`), each media
segment's moof boxes (`read_moof`) with where its mdat payloads lie in the segment's
file, and the runs those segments form (one init, no discontinuity inside). `header()`
answers ftyp + moov + the mdat header; the media that follows is every mdat payload of
every segment, in order, which the caller copies itself without ever holding them as
Python objects. No sample is re-encoded, demuxed or even read here.

Timing follows the segments' own decode times inside a run; each run then starts where
the one before it ended (its declared duration, or later if a track ran long), so a
broadcaster's reconnect leaves no gap and no overlap. A run whose init describes its
samples differently (new SPS/PPS, another resolution) gets its own sample entry in the
track's stsd, selected through stsc; a different timescale is rescaled.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from edge_node.package.cmaf.boxes import (
    DATA_INFORMATION,
    box,
    brands,
    full_box,
    mdat_header,
    media_header,
    movie_header,
)
from edge_node.package.cmaf.flags import NON_SYNC_SAMPLE
from edge_node.package.cmaf.reader import (
    Box,
    BoxError,
    SampleDefaults,
    iter_boxes,
    parse_traf,
    parse_trex,
)

MOVIE_TIMESCALE = 1000
KINDS = {b"vide": "video", b"soun": "audio"}  # the tracks a download keeps, in this order

_U32 = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class Edit:
    duration: int  # movie timescale ticks; 0 for "to the end of the track"
    media_time: int  # media ticks; -1 for an empty edit


@dataclass(frozen=True, slots=True)
class InitTrack:
    """What one trak of an init segment says that a progressive file needs again."""

    track_id: int
    handler: bytes  # b"vide", b"soun", ...
    timescale: int
    language: int  # mdhd's packed ISO-639-2 code
    presentation: bytes  # tkhd from layer to height: volume, matrix, size
    hdlr: bytes  # the whole box
    media_header: bytes  # vmhd or smhd, the whole box
    entries: tuple[bytes, ...]  # stsd's sample entries, whole boxes
    edits: tuple[Edit, ...]  # in the init's movie timescale
    movie_timescale: int
    defaults: SampleDefaults = field(default_factory=SampleDefaults)

    @property
    def kind(self) -> str | None:
        return KINDS.get(self.handler)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One trun: samples whose data lie back to back at `position` in the segment file."""

    track_id: int
    description: int  # 1-based index into its init's sample entries
    decode_time: int  # of the first sample, in the track's timescale
    position: int
    durations: tuple[int, ...]
    sizes: tuple[int, ...]
    flags: tuple[int, ...]
    composition_offsets: tuple[int, ...]  # empty: all zero

    @property
    def size(self) -> int:
        return sum(self.sizes)


@dataclass(frozen=True, slots=True)
class MediaSegment:
    chunks: tuple[Chunk, ...]
    payloads: tuple[tuple[int, int], ...]  # (file offset, length) of each mdat's payload


@dataclass(frozen=True, slots=True)
class MediaRun:
    """Segments that share one init and have no discontinuity between them."""

    tracks: tuple[InitTrack, ...]
    segments: tuple[MediaSegment, ...]
    duration: Fraction  # as the playlist declared it, seconds


# -- reading ---------------------------------------------------------------------------


def read_init(data: bytes) -> tuple[InitTrack, ...]:
    """The tracks of an init segment (ftyp + moov with mvex); BoxError if malformed."""
    try:
        return _read_init(data)
    except struct.error as e:
        raise BoxError("a box of the init segment too short for its fields") from e


def _read_init(data: bytes) -> tuple[InitTrack, ...]:
    moov = next((b for b in iter_boxes(data) if b.kind == b"moov"), None)
    if moov is None:
        raise BoxError("an init segment needs a moov")
    movie_timescale = _timescale(moov.child(b"mvhd"), 12, 20)
    defaults: dict[int, SampleDefaults] = {}
    traks = []
    for child in moov.children():
        if child.kind == b"trak":
            traks.append(child)
        elif child.kind == b"mvex":
            for trex in child.children():
                if trex.kind == b"trex":
                    track_id, values = parse_trex(trex)
                    defaults[track_id] = values
    tracks = (_init_track(trak, movie_timescale) for trak in traks)
    return tuple(
        dataclasses.replace(t, defaults=defaults.get(t.track_id, SampleDefaults())) for t in tracks
    )


MEDIA_HEADERS = (b"vmhd", b"smhd", b"nmhd")


def _timescale(header: Box, at_v0: int, at_v1: int) -> int:
    version, _ = header.full_header()
    value: int = struct.unpack_from(">I", header.payload, at_v1 if version else at_v0)[0]
    if not value:
        raise BoxError(f"{header.kind!r} has a zero timescale")
    return value


def _init_track(trak: Box, movie_timescale: int) -> InitTrack:
    tkhd = trak.child(b"tkhd")
    version, _ = tkhd.full_header()
    (track_id,) = struct.unpack_from(">I", tkhd.payload, 20 if version else 12)
    mdia = trak.child(b"mdia")
    mdhd = mdia.child(b"mdhd")
    mdhd_version, _ = mdhd.full_header()
    (language,) = struct.unpack_from(">H", mdhd.payload, 32 if mdhd_version else 20)
    hdlr = mdia.child(b"hdlr")
    minf = mdia.child(b"minf")
    media_header = next((c for c in minf.children() if c.kind in MEDIA_HEADERS), None)
    if media_header is None:
        raise BoxError("a minf without a media header (vmhd, smhd or nmhd)")
    stsd = minf.child(b"stbl").child(b"stsd")
    entries = tuple(b.whole() for b in iter_boxes(stsd.payload[8:]))
    edits: tuple[Edit, ...] = ()
    for child in trak.children():
        if child.kind == b"edts":
            edits = _edits(child.child(b"elst"))
    return InitTrack(
        track_id=track_id,
        handler=bytes(hdlr.payload[8:12]),
        timescale=_timescale(mdhd, 12, 20),
        language=language & 0x7FFF,
        presentation=bytes(tkhd.payload[-52:]),
        hdlr=hdlr.whole(),
        media_header=media_header.whole(),
        entries=entries,
        edits=edits,
        movie_timescale=movie_timescale,
    )


def _edits(elst: Box) -> tuple[Edit, ...]:
    version, _ = elst.full_header()
    (count,) = struct.unpack_from(">I", elst.payload, 4)
    row = ">Qq" if version else ">Ii"
    step = struct.calcsize(row) + 4  # media_rate_integer and _fraction
    if len(elst.payload) < 8 + count * step:
        raise BoxError("elst shorter than its entry count")
    return tuple(Edit(*struct.unpack_from(row, elst.payload, 8 + i * step)) for i in range(count))


def read_moof(
    moof: bytes | memoryview, at: int, tracks: Mapping[int, InitTrack]
) -> tuple[Chunk, ...]:
    """The chunks of one moof box (`moof` is the whole box) found at file offset `at`."""
    trex = {track_id: t.defaults for track_id, t in tracks.items()}
    chunks: list[Chunk] = []
    end = at  # where the previous traf's data ended: the base of a traf without one
    for index, traf in enumerate(b for b in iter_boxes(moof[8:]) if b.kind == b"traf"):
        fragment = parse_traf(traf, trex)
        track_id = fragment.track_id
        if track_id not in trex:
            raise BoxError(f"a fragment of track {track_id}, which the init lacks")
        base = fragment.base_data_offset
        if base is None:
            base = at if index == 0 or fragment.base_is_moof else end
        decode_time = fragment.base_decode_time
        position = base
        for run in fragment.runs:
            if run.data_offset is not None:
                position = base + run.data_offset
            if run.durations:
                chunks.append(
                    Chunk(
                        track_id,
                        fragment.description,
                        decode_time,
                        position,
                        run.durations,
                        run.sizes,
                        run.flags,
                        run.composition_offsets,
                    )
                )
            decode_time += sum(run.durations)
            position += sum(run.sizes)
        end = position
    return tuple(chunks)


# -- laying out ------------------------------------------------------------------------


@dataclass
class _Track:
    """One output track as the runs fill it in (private and mutable while building)."""

    first: InitTrack
    origin: int | None = None  # decode time of the first sample: where the media starts
    end: int = 0  # decode time after the last sample so far
    shown_end: int = 0  # composition time after the last sample shown so far
    durations: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sync: list[int] = field(default_factory=list)  # 1-based sample numbers
    offsets: list[int] = field(default_factory=list)  # composition offsets
    chunks: list[tuple[int, int, int]] = field(default_factory=list)  # media offset, count, entry
    entries: dict[bytes, int] = field(default_factory=dict)  # sample entry -> 1-based index

    @property
    def timescale(self) -> int:
        return self.first.timescale

    def add(self, chunk: Chunk, start: int, entry: bytes, media_offset: int) -> None:
        """`chunk`, its first sample decoded at `start` (output ticks)."""
        if self.origin is None:
            self.origin = self.end = start
        if start < self.end:
            raise ValueError("decode times step back inside a run")
        if self.durations:
            self.durations[-1] += start - self.end  # a gap is the last sample's to fill
        first = len(self.sizes) + 1
        self.durations.extend(chunk.durations)
        self.sizes.extend(chunk.sizes)
        self.sync.extend(first + i for i, f in enumerate(chunk.flags) if not f & NON_SYNC_SAMPLE)
        if chunk.composition_offsets or self.offsets:
            self.offsets.extend([0] * (first - 1 - len(self.offsets)))
            self.offsets.extend(chunk.composition_offsets or [0] * len(chunk.sizes))
        index = self.entries.setdefault(entry, len(self.entries) + 1)
        self.chunks.append((media_offset, len(chunk.sizes), index))
        self.end = start + sum(chunk.durations)
        self.shown_end = max(self.shown_end, self.end)
        if chunk.composition_offsets:
            # Reordered frames: the last shown may not be the last decoded.
            times = itertools.accumulate(chunk.durations, initial=start)
            rows = zip(times, chunk.composition_offsets, chunk.durations, strict=False)
            self.shown_end = max(self.shown_end, *(t + o + d for t, o, d in rows))


def _rescaled(chunk: Chunk, source: int, target: int) -> Chunk:
    """`chunk` in another timescale: times rounded once each, so no error builds up."""
    times = list(itertools.accumulate(chunk.durations, initial=0))
    scaled = [t * target // source for t in times]
    offsets = tuple(
        (t + o) * target // source - s
        for t, o, s in zip(times, chunk.composition_offsets, scaled, strict=False)
    )
    durations = tuple(b - a for a, b in itertools.pairwise(scaled))
    return dataclasses.replace(chunk, durations=durations, composition_offsets=offsets)


def header(runs: Sequence[MediaRun]) -> bytes:
    """ftyp + moov + mdat header of the progressive file; the mdat payload to follow is
    every segment's mdat payloads in order (`MediaSegment.payloads`)."""
    tracks: dict[str, _Track] = {}
    for run in runs:
        for t in run.tracks:
            if t.kind is not None and t.kind not in tracks:
                tracks[t.kind] = _Track(t)
    if not tracks:
        raise ValueError("no audio or video track to write")
    start = Fraction(0)  # where this run begins in the output, seconds
    media = 0  # bytes of mdat payload so far
    for run in runs:
        media = _lay_out_run(run, tracks, start, media)
        start += run.duration
    ordered = [tracks[k] for k in KINDS.values() if k in tracks]
    ftyp = box(b"ftyp", brands(b"isom", 0x200, (b"isom", b"iso2", b"mp41")))
    mdat = mdat_header(media)
    # The moov's size depends on whether offsets take 32 or 64 bits, not on their values.
    wide = media > _U32
    chunk_base = len(ftyp) + len(_moov(ordered, 0, wide)) + len(mdat)
    if not wide and chunk_base + media > _U32:
        wide = True
        chunk_base = len(ftyp) + len(_moov(ordered, 0, wide)) + len(mdat)
    return ftyp + _moov(ordered, chunk_base, wide) + mdat


def _lay_out_run(run: MediaRun, tracks: dict[str, _Track], start: Fraction, media: int) -> int:
    by_id = {t.track_id: t for t in run.tracks if t.kind in tracks}
    firsts: dict[int, int] = {}  # track id -> its first decode time in this run
    begins: dict[int, int] = {}  # track id -> its first decode time in the output
    for segment in run.segments:
        bases = []
        for position, length in segment.payloads:
            bases.append((position, length, media))
            media += length
        for chunk in segment.chunks:
            init = by_id.get(chunk.track_id)
            if init is None:
                continue
            out = tracks[init.kind or ""]
            if chunk.track_id not in firsts:
                firsts[chunk.track_id] = chunk.decode_time
                # A track that ran long in the run before pushes this run's start back
                # for that track only: timestamps never step back.
                begins[chunk.track_id] = max(math.ceil(start * out.timescale), out.end)
            since = chunk.decode_time - firsts[chunk.track_id]
            if init.timescale != out.timescale:
                since = since * out.timescale // init.timescale
                chunk = _rescaled(chunk, init.timescale, out.timescale)
            out.add(
                chunk,
                begins[chunk.track_id] + since,
                _entry(init, chunk.description),
                _media_offset(bases, chunk),
            )
    return media


def _entry(init: InitTrack, description: int) -> bytes:
    if not 1 <= description <= len(init.entries):
        raise BoxError(f"sample description {description} of {len(init.entries)}")
    return init.entries[description - 1]


def _media_offset(bases: list[tuple[int, int, int]], chunk: Chunk) -> int:
    """Where the chunk's data land in the output's mdat payload."""
    for position, length, media in bases:
        if position <= chunk.position and chunk.position + chunk.size <= position + length:
            return media + chunk.position - position
    raise BoxError("a run's samples lie outside every mdat of its segment")


# -- writing ---------------------------------------------------------------------------


def _moov(tracks: Sequence[_Track], chunk_base: int, wide: bool) -> bytes:
    traks = [_trak(t, i + 1, chunk_base, wide) for i, t in enumerate(tracks)]
    duration = max(d for _, d in traks)
    return box(
        b"moov", movie_header(MOVIE_TIMESCALE, duration, len(tracks) + 1), *(t for t, _ in traks)
    )


def _trak(track: _Track, track_id: int, chunk_base: int, wide: bool) -> tuple[bytes, int]:
    """The trak box and its duration in the movie timescale."""
    edits = _output_edits(track)
    duration = sum(e.duration for e in edits)
    media_duration = sum(track.durations)
    if duration > _U32:
        tkhd_times = struct.pack(">QQIIQ", 0, 0, track_id, 0, duration)
        tkhd_version = 1
    else:
        tkhd_times = struct.pack(">IIIII", 0, 0, track_id, 0, duration)
        tkhd_version = 0
    tkhd = full_box(b"tkhd", tkhd_version, 0x3, tkhd_times, bytes(8), track.first.presentation)
    mdhd = media_header(track.timescale, media_duration, track.first.language)
    minf = box(b"minf", track.first.media_header, DATA_INFORMATION, _stbl(track, chunk_base, wide))
    parts = [tkhd]
    if edits != [Edit(duration, 0)]:
        parts.append(box(b"edts", _elst(edits)))
    parts.append(box(b"mdia", mdhd, track.first.hdlr, minf))
    return box(b"trak", *parts), duration


def _output_edits(track: _Track) -> list[Edit]:
    """The first init's edit list with its open end closed, after an empty edit for a
    track that starts later than the movie."""
    init = track.first
    shown = track.shown_end - (track.origin or 0)
    out = []
    origin = track.origin or 0
    if origin:
        out.append(Edit(_to_movie(origin, track.timescale), -1))
    edits = list(init.edits) or [Edit(0, 0)]
    for index, edit in enumerate(edits):
        if edit.media_time < 0:
            duration = edit.duration * MOVIE_TIMESCALE // init.movie_timescale
            if duration:
                out.append(Edit(duration, -1))
            continue
        # Written while the track's length was unknown: the last edit runs to the end.
        if index == len(edits) - 1 or not edit.duration:
            remaining = max(0, shown - edit.media_time)
            out.append(Edit(_to_movie(remaining, track.timescale), edit.media_time))
        else:
            duration = edit.duration * MOVIE_TIMESCALE // init.movie_timescale
            out.append(Edit(duration, edit.media_time))
    return out


def _to_movie(ticks: int, timescale: int) -> int:
    return math.ceil(Fraction(ticks * MOVIE_TIMESCALE, timescale))


def _elst(edits: Sequence[Edit]) -> bytes:
    wide = any(e.duration > _U32 or e.media_time > 0x7FFF_FFFF for e in edits)
    row = ">QqHH" if wide else ">IiHH"
    rows = b"".join(struct.pack(row, e.duration, e.media_time, 1, 0) for e in edits)
    return full_box(b"elst", int(wide), 0, struct.pack(">I", len(edits)), rows)


def _stbl(track: _Track, chunk_base: int, wide: bool) -> bytes:
    count = len(track.sizes)
    entries = list(track.entries)
    parts = [
        full_box(b"stsd", 0, 0, struct.pack(">I", len(entries)), *entries),
        full_box(b"stts", 0, 0, *_run_lengths(track.durations)),
    ]
    if any(track.offsets):
        signed = any(o < 0 for o in track.offsets)
        parts.append(full_box(b"ctts", int(signed), 0, *_run_lengths(track.offsets, signed)))
    if len(track.sync) < count:
        parts.append(
            full_box(
                b"stss", 0, 0, struct.pack(f">I{len(track.sync)}I", len(track.sync), *track.sync)
            )
        )
    parts.append(_stsc(track.chunks))
    parts.append(full_box(b"stsz", 0, 0, struct.pack(f">II{count}I", 0, count, *track.sizes)))
    offsets = [chunk_base + offset for offset, _, _ in track.chunks]
    kind, fmt = (b"co64", "Q") if wide else (b"stco", "I")
    parts.append(
        full_box(kind, 0, 0, struct.pack(f">I{len(offsets)}{fmt}", len(offsets), *offsets))
    )
    return box(b"stbl", *parts)


def _run_lengths(values: Sequence[int], signed: bool = False) -> tuple[bytes, bytes]:
    """(entry count, entries) of stts or ctts: (sample count, value) pairs."""
    pairs: list[int] = []
    previous = None
    for value in values:
        if value == previous:
            pairs[-2] += 1
        else:
            pairs += (1, value)
            previous = value
    fmt = ">" + ("Ii" if signed else "II") * (len(pairs) // 2)
    return struct.pack(">I", len(pairs) // 2), struct.pack(fmt, *pairs)


def _stsc(chunks: Sequence[tuple[int, int, int]]) -> bytes:
    rows: list[int] = []
    previous = None
    for number, (_, count, entry) in enumerate(chunks, start=1):
        if (count, entry) != previous:
            rows += (number, count, entry)
            previous = (count, entry)
    return full_box(b"stsc", 0, 0, struct.pack(f">I{len(rows)}I", len(rows) // 3, *rows))
