"""AAC in ADTS (how TS carries it) into what RTMP carries: raw frames and an
AudioSpecificConfig."""

from __future__ import annotations

from dataclasses import dataclass

from edge_node.codecs import AAC_SAMPLE_RATES

SAMPLES_PER_FRAME = 1024


@dataclass(frozen=True, slots=True)
class AdtsFrame:
    asc: bytes  # the AudioSpecificConfig this frame's header stands for
    sample_rate: int
    channels: int
    offset: int  # the frame's index in its PES, for its timestamp
    data: bytes  # the raw AAC frame


def parse_adts(data: bytes) -> tuple[list[AdtsFrame], int]:
    """The frames in one PES payload, and how many bytes were skipped as garbage."""
    frames: list[AdtsFrame] = []
    skipped = pos = 0
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
            skipped += 1
            pos += 1
            continue
        protection_absent = data[pos + 1] & 0x01
        profile = data[pos + 2] >> 6
        rate_index = (data[pos + 2] >> 2) & 0x0F
        channels = ((data[pos + 2] & 0x01) << 2) | (data[pos + 3] >> 6)
        length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        blocks = (data[pos + 6] & 0x03) + 1
        header = 7 if protection_absent else 9
        if rate_index >= len(AAC_SAMPLE_RATES) or length <= header or pos + length > len(data):
            skipped += 1
            pos += 1
            continue
        # Channel configuration 0 (a program config element in the stream) and several
        # raw blocks per frame are legal but no encoder we take sends them: skip.
        if channels and blocks == 1:
            object_type = profile + 1
            asc = ((object_type << 11) | (rate_index << 7) | (channels << 3)).to_bytes(2, "big")
            body = data[pos + header : pos + length]
            frames.append(AdtsFrame(asc, AAC_SAMPLE_RATES[rate_index], channels, len(frames), body))
        else:
            skipped += length
        pos += length
    return frames, skipped + (len(data) - pos)
