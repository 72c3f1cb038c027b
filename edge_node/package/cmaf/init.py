"""The CMAF header (init segment): ftyp + moov with empty sample tables and mvex/trex.

Fragmented tracks carry no samples in moov; a player learns everything about a sample
from the moof that precedes it, so every sample table here is empty by design.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge_node.codecs import parse_asc, sample_entry, video_codec_of, video_codec_string
from edge_node.media import TrackInfo
from edge_node.package.cmaf.boxes import (
    DATA_INFORMATION,
    UNITY_MATRIX,
    box,
    brands,
    full_box,
    media_header,
    movie_header,
)

_LANGUAGE_UND = 0x55C4  # 'und' packed as three 5-bit letters
_MOVIE_TIMESCALE = 1000


@dataclass(frozen=True, slots=True)
class Track:
    """One track of the init segment.

    `skip` is the number of media ticks the edit list hides at the start of the track:
    the AAC encoder's priming samples, or the composition delay of video with B-frames,
    so that every track presents its first real sample at time zero.
    """

    track_id: int
    info: TrackInfo
    skip: int = 0


def init_segment(tracks: Sequence[Track]) -> bytes:
    """ftyp + moov for these tracks (track ids must be distinct and start at 1)."""
    if not tracks:
        raise ValueError("an init segment needs at least one track")
    ftyp = box(b"ftyp", brands(b"iso6", 0, (b"iso6", b"cmfc", b"mp41")))
    next_id = max(t.track_id for t in tracks) + 1
    moov = box(
        b"moov",
        movie_header(_MOVIE_TIMESCALE, 0, next_id),
        *(_trak(t) for t in tracks),
        box(b"mvex", *(_trex(t.track_id) for t in tracks)),
    )
    return ftyp + moov


def _trak(track: Track) -> bytes:
    info = track.info
    video = info.kind == "video"
    tkhd = full_box(
        b"tkhd",
        0,
        0x3,  # enabled | in movie
        struct.pack(">IIII", 0, 0, track.track_id, 0),
        struct.pack(">I", 0),  # duration: unknown for a live track
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0 if video else 0x0100, 0),
        UNITY_MATRIX,
        struct.pack(">II", (info.width if video else 0) << 16, (info.height if video else 0) << 16),
    )
    parts = [tkhd]
    if track.skip:
        parts.append(_edts(track.skip))
    parts.append(
        box(b"mdia", media_header(info.timescale, 0, _LANGUAGE_UND), _hdlr(video), _minf(info))
    )
    return box(b"trak", *parts)


def _edts(media_time: int) -> bytes:
    # A zero segment_duration means "the whole (fragmented, unknown) duration".
    elst = full_box(b"elst", 0, 0, struct.pack(">IIiHH", 1, 0, media_time, 1, 0))
    return box(b"edts", elst)


def _hdlr(video: bool) -> bytes:
    handler, name = (b"vide", b"Glasscast Video\0") if video else (b"soun", b"Glasscast Audio\0")
    return full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, handler), bytes(12), name)


def _minf(info: TrackInfo) -> bytes:
    if info.kind == "video":
        header = full_box(b"vmhd", 0, 1, bytes(8))
        entry = _visual_sample_entry(info)
    else:
        header = full_box(b"smhd", 0, 0, bytes(4))
        entry = _mp4a(info)
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )
    return box(b"minf", header, DATA_INFORMATION, stbl)


def track_codec_string(info: TrackInfo) -> str:
    """A video track's RFC 6381 string read from its record (what the fragments hold),
    for the sample entry its announced codec string names; ValueError if unreadable."""
    return video_codec_string(video_codec_of(info.codec_string or "avc1"), info.codec_private)


# Sample entry -> the box that carries its decoder configuration record.
_CONFIG_BOXES = {"avc1": b"avcC", "hvc1": b"hvcC", "av01": b"av1C"}


def _visual_sample_entry(info: TrackInfo) -> bytes:
    """avc1+avcC, hvc1+hvcC or av01+av1C, as the track's codec string names.

    HEVC is written as hvc1, not hev1: Apple's HLS authoring rules ask for hvc1, and
    the record an encoder sends in its sequence header holds every parameter set.
    """
    entry = sample_entry(info.codec_string) or "avc1"
    try:
        config = _CONFIG_BOXES[entry]
    except KeyError:
        raise ValueError(f"no video sample entry {entry!r}") from None
    return box(
        entry.encode("ascii"),
        bytes(6),
        struct.pack(">H", 1),  # reserved, data_reference_index
        bytes(16),  # pre_defined, reserved, pre_defined[3]
        struct.pack(">HH", info.width, info.height),
        struct.pack(">II", 0x0048_0000, 0x0048_0000),  # 72 dpi
        bytes(4),
        struct.pack(">H", 1),  # reserved, frame_count
        bytes(32),  # compressorname
        struct.pack(">Hh", 0x0018, -1),  # depth, pre_defined
        box(config, info.codec_private),
    )


def _mp4a(info: TrackInfo) -> bytes:
    asc = parse_asc(info.codec_private)
    channels = info.channels or asc.channels or 2
    rate = info.sample_rate or asc.sample_rate
    return box(
        b"mp4a",
        bytes(6),
        struct.pack(">H", 1),
        bytes(8),
        struct.pack(">HHHH", channels, 16, 0, 0),
        struct.pack(">I", (rate & 0xFFFF) << 16),
        _esds(info.codec_private, info.bitrate),
    )


def _descriptor(tag: int, *payload: bytes) -> bytes:
    body = b"".join(payload)
    size = len(body)
    if size >= 1 << 28:
        raise ValueError("descriptor too large")
    # The expandable size field: 7 bits a byte, high bit set on all but the last.
    length = bytearray([size & 0x7F])
    size >>= 7
    while size:
        length.insert(0, 0x80 | (size & 0x7F))
        size >>= 7
    return bytes([tag]) + bytes(length) + body


def _esds(asc: bytes, bitrate: int) -> bytes:
    decoder_config = _descriptor(
        0x04,
        struct.pack(">BB", 0x40, (0x05 << 2) | 1),  # MPEG-4 audio, AudioStream
        (0).to_bytes(3, "big"),  # bufferSizeDB
        struct.pack(">II", bitrate, bitrate),
        _descriptor(0x05, asc),
    )
    es = _descriptor(0x03, struct.pack(">HB", 0, 0), decoder_config, _descriptor(0x06, b"\x02"))
    return full_box(b"esds", 0, 0, es)


def _trex(track_id: int) -> bytes:
    return full_box(b"trex", 0, 0, struct.pack(">IIIII", track_id, 1, 0, 0, 0))
