"""Program-specific information: the PAT and PMT sections that say which PIDs carry what."""

from __future__ import annotations

from dataclasses import dataclass

# ISO/IEC 13818-1 table 2-34 (and H.222 amendments) for the stream types we name.
STREAM_TYPES = {
    0x01: "mpeg1-video",
    0x02: "mpeg2-video",
    0x03: "mp3",
    0x04: "mp3",
    0x0F: "aac",
    0x10: "mpeg4-video",
    0x11: "aac-latm",
    0x1B: "h264",
    0x24: "hevc",
    0x81: "ac3",
    0x87: "eac3",
}
VIDEO_TYPES = frozenset({0x01, 0x02, 0x10, 0x1B, 0x24})
AUDIO_TYPES = frozenset({0x03, 0x04, 0x0F, 0x11, 0x81, 0x87})
# section_length is 12 bits but PSI sections are capped at 1021 bytes after it.
MAX_SECTION = 3 + 1021


@dataclass(frozen=True, slots=True)
class Stream:
    pid: int
    stream_type: int

    @property
    def codec(self) -> str:
        return STREAM_TYPES.get(self.stream_type, f"stream type 0x{self.stream_type:02x}")


@dataclass(frozen=True, slots=True)
class Program:
    video: Stream | None
    audio: Stream | None


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def section_complete(buffer: bytes | bytearray) -> int | None:
    """The length of the section at the start of `buffer` once all of it is there."""
    if len(buffer) < 3:
        return None
    total = 3 + (((buffer[1] & 0x0F) << 8) | buffer[2])
    return total if len(buffer) >= total else None


def _checked(section: bytes, table_id: int) -> bytes | None:
    # A section ends in a CRC over all of it; running the CRC over the CRC gives 0.
    if len(section) < 12 or section[0] != table_id or crc32_mpeg2(section) != 0:
        return None
    return section


def parse_pat(section: bytes) -> int | None:
    """The PMT PID of the first program in a PAT section; None if there is none or the
    section is damaged."""
    if _checked(section, 0x00) is None:
        return None
    for offset in range(8, len(section) - 4 - 3, 4):
        number = (section[offset] << 8) | section[offset + 1]
        if number != 0:  # program 0 points at the network information table
            return ((section[offset + 2] & 0x1F) << 8) | section[offset + 3]
    return None


def parse_pmt(section: bytes) -> Program | None:
    """The first video and first audio elementary stream a PMT section lists."""
    if _checked(section, 0x02) is None:
        return None
    end = len(section) - 4
    offset = 12 + (((section[10] & 0x0F) << 8) | section[11])
    video = audio = None
    while offset + 5 <= end:
        stream_type = section[offset]
        pid = ((section[offset + 1] & 0x1F) << 8) | section[offset + 2]
        offset += 5 + (((section[offset + 3] & 0x0F) << 8) | section[offset + 4])
        if stream_type in VIDEO_TYPES and video is None:
            video = Stream(pid, stream_type)
        elif stream_type in AUDIO_TYPES and audio is None:
            audio = Stream(pid, stream_type)
    return Program(video, audio)
