"""The demuxer: packets -> sections and PES packets -> frames on the stream clock."""

from __future__ import annotations

from dataclasses import dataclass

from edge_node.hevc import hvcc_dimensions
from edge_node.ingest.rtmp import CodecConfig, Discontinuity, MediaPacket
from edge_node.ingest.rtmp._clock import StreamClock
from edge_node.ingest.rtmp._media import avc_dimensions
from edge_node.media import TrackKind

from ._adts import SAMPLES_PER_FRAME, parse_adts
from ._h264 import H264Track
from ._hevc import HevcTrack
from ._pes import parse_pes_header
from ._psi import MAX_SECTION, Program, Stream, parse_pat, parse_pmt, section_complete

PACKET_SIZE = 188
SYNC = 0x47
PAT_PID = 0
_WRAP = 1 << 33  # PTS/DTS are 33-bit counts of 90 kHz ticks
_HALF = 1 << 32
_TICKS_PER_MS = 90
_MS_WRAP = 1 << 32  # the stream clock's wire timestamps are RTMP's 32-bit milliseconds
DEFAULT_MAX_PES_SIZE = 8 * 1024 * 1024
_VIDEO_TRACKS: dict[int, type[H264Track | HevcTrack]] = {0x1B: H264Track, 0x24: HevcTrack}


@dataclass(frozen=True, slots=True)
class MediaRefused:
    """Well-formed media in a codec this ingest does not take; the caller is dropped."""

    reason: str


TsEvent = CodecConfig | MediaPacket | Discontinuity | MediaRefused


class _Pes:
    """One elementary stream's PES packet being reassembled."""

    __slots__ = ("cc", "data", "dts", "kind", "pts", "remaining", "stream")

    def __init__(self, stream: Stream, kind: TrackKind) -> None:
        self.stream = stream
        self.kind: TrackKind = kind
        self.data = bytearray()
        self.pts: int | None = None
        self.dts: int | None = None
        self.remaining: int | None = None  # None: ends at the next unit start
        self.cc = -1  # the last continuity counter, -1 before the first packet

    def reset(self) -> None:
        self.data = bytearray()
        self.pts = self.dts = self.remaining = None


class TsDemuxer:
    """Feed it bytes as they arrive (any split); it returns the events they complete.

    It never raises on input: damaged packets, sections and frames are skipped and
    counted in `errors`.
    """

    def __init__(self, max_pes_size: int = DEFAULT_MAX_PES_SIZE) -> None:
        self.max_pes_size = max_pes_size
        self.errors = 0
        self.refused: str | None = None
        self._buffer = bytearray()
        # Whether the last packet was where one was expected; after a loss of sync a
        # sync byte must be confirmed by the next packet's.
        self._synced = True
        self._sections: dict[int, bytearray] = {}
        self._pmt_pid: int | None = None
        self._program: Program | None = None
        self._pes: dict[int, _Pes] = {}
        self._clock = StreamClock()
        self._last_raw: int | None = None
        self._unwrapped = 0
        self._video_track: H264Track | HevcTrack = H264Track()
        self._video_codec = "h264"
        self._asc: bytes | None = None
        self._out: list[TsEvent] = []

    # ------------------------------------------------------------------- input

    def feed(self, data: bytes | bytearray | memoryview) -> list[TsEvent]:
        if self.refused is not None:
            return []
        buffer = self._buffer
        buffer += data
        pos, end = 0, len(buffer)
        while end - pos >= PACKET_SIZE and self.refused is None:
            if buffer[pos] == SYNC:
                if self._synced or (end - pos > PACKET_SIZE and buffer[pos + PACKET_SIZE] == SYNC):
                    self._synced = True
                    self._packet(bytes(buffer[pos : pos + PACKET_SIZE]))
                    pos += PACKET_SIZE
                    continue
                if end - pos == PACKET_SIZE:
                    break  # a candidate: the next packet's sync byte will confirm it
            elif self._synced:
                self._synced = False
                self.errors += 1
            # Lost sync: a 0x47 is only a packet start if another follows 188 bytes on
            # (0x47 is common inside payloads).
            found = buffer.find(SYNC, pos + 1)
            pos = end if found < 0 else found
        del buffer[:pos]
        out, self._out = self._out, []
        return out

    def flush(self) -> list[TsEvent]:
        """The end of the input: the frames still waiting for their successor."""
        for pes in self._pes.values():
            self._complete(pes)
        out, self._out = self._out, []
        return out

    def _packet(self, packet: bytes) -> None:
        b1, b3 = packet[1], packet[3]
        if b1 & 0x80 or b3 & 0xC0:  # transport error, or scrambled
            self.errors += 1
            return
        unit_start = bool(b1 & 0x40)
        pid = ((b1 & 0x1F) << 8) | packet[2]
        control = (b3 >> 4) & 0x03
        if not control & 0x01:  # adaptation field only (or reserved): no payload
            return
        start = 4
        if control & 0x02:
            start = 5 + packet[4]
            if start > PACKET_SIZE:
                self.errors += 1
                return
        payload = packet[start:]
        if pid == PAT_PID or pid == self._pmt_pid:
            self._section(pid, unit_start, payload)
        elif pid in self._pes:
            self._payload(self._pes[pid], unit_start, b3 & 0x0F, payload)

    # ----------------------------------------------------------------- PSI

    def _section(self, pid: int, unit_start: bool, payload: bytes) -> None:
        if unit_start:
            if not payload or payload[0] + 1 > len(payload):
                self.errors += 1
                return
            self._sections[pid] = bytearray(payload[1 + payload[0] :])
        elif pid in self._sections:
            self._sections[pid] += payload
        else:
            return
        section = self._sections[pid]
        if len(section) > MAX_SECTION:
            del self._sections[pid]
            self.errors += 1
            return
        length = section_complete(section)
        if length is None:
            return
        del self._sections[pid]
        if section[0] == 0xFF:  # stuffing: no section in this packet
            return
        if pid == PAT_PID:
            self._pat(bytes(section[:length]))
        else:
            self._pmt(bytes(section[:length]))

    def _pat(self, section: bytes) -> None:
        pmt_pid = parse_pat(section)
        if pmt_pid is None:
            self.errors += 1
        elif pmt_pid != self._pmt_pid and pmt_pid != PAT_PID:
            self._pmt_pid = pmt_pid
            self._sections.pop(pmt_pid, None)

    def _pmt(self, section: bytes) -> None:
        program = parse_pmt(section)
        if program is None:
            self.errors += 1
            return
        if program == self._program:
            return
        self._program = program
        if program.video is not None:
            if program.video.stream_type not in _VIDEO_TRACKS:
                reason = f"video codec {program.video.codec} is not supported; send H.264 or HEVC"
                self._refuse(reason)
                return
            if program.video.codec != self._video_codec:
                self._video_codec = program.video.codec
                self._video_track = _VIDEO_TRACKS[program.video.stream_type]()
        if program.audio is not None and program.audio.stream_type != 0x0F:
            self._refuse(f"audio codec {program.audio.codec} is not supported; send AAC (ADTS)")
            return
        wanted: dict[int, tuple[Stream, TrackKind]] = {}
        if program.video is not None:
            wanted[program.video.pid] = (program.video, "video")
        if program.audio is not None and program.audio.pid not in wanted:
            wanted[program.audio.pid] = (program.audio, "audio")
        for pid in [p for p in self._pes if p not in wanted or self._pes[p].stream != wanted[p][0]]:
            del self._pes[pid]
        for pid, (stream, kind) in wanted.items():
            if pid not in self._pes and pid not in (PAT_PID, self._pmt_pid):
                self._pes[pid] = _Pes(stream, kind)

    def _refuse(self, reason: str) -> None:
        self.refused = reason
        self._pes.clear()
        self._out.append(MediaRefused(reason))

    # ----------------------------------------------------------------- PES

    def _payload(self, pes: _Pes, unit_start: bool, cc: int, payload: bytes) -> None:
        expected = (pes.cc + 1) & 0x0F
        if pes.cc >= 0 and cc == pes.cc:
            return  # a duplicate packet (allowed once by the standard)
        lost = pes.cc >= 0 and cc != expected
        pes.cc = cc
        if lost and pes.pts is not None:
            # A packet of the frame being gathered was lost (past SRT's latency, or
            # dropped): that frame is damaged; the decoder recovers at the next keyframe.
            self.errors += 1
            pes.reset()
        if unit_start:
            self._complete(pes)
            header = parse_pes_header(payload)
            if header is None:
                self.errors += 1
                return
            pes.pts, pes.dts, pes.remaining = header.pts, header.dts, header.data_length
            payload = payload[header.header_length :]
            pes.data = bytearray()
        elif pes.pts is None:
            return  # the rest of a frame whose start we did not see
        if pes.remaining is not None:
            payload = payload[: pes.remaining]
            pes.remaining -= len(payload)
        if len(pes.data) + len(payload) > self.max_pes_size:
            self.errors += 1
            pes.reset()
            return
        pes.data += payload
        if pes.remaining == 0:
            self._complete(pes)

    def _complete(self, pes: _Pes) -> None:
        if pes.pts is None or pes.dts is None or not pes.data:
            pes.reset()
            return
        data, pts, dts = bytes(pes.data), pes.pts, pes.dts
        pes.reset()
        if pes.kind == "video":
            self._video(data, pts, dts)
        else:
            self._audio(data, pts)

    # --------------------------------------------------------------- frames

    def _video(self, data: bytes, pts: int, dts: int) -> None:
        unit = self._video_track.access_unit(data)
        if unit.record is not None:
            codec = self._video_codec
            dimensions = avc_dimensions if codec == "h264" else hvcc_dimensions
            width, height = dimensions(unit.record)
            self._out.append(CodecConfig("video", codec, unit.record, width, height))
        if unit.data:
            self._emit("video", dts, (pts - dts) % _WRAP, unit.keyframe, unit.data)

    def _audio(self, data: bytes, pts: int) -> None:
        frames, skipped = parse_adts(data)
        if skipped:
            self.errors += 1
        for frame in frames:
            if frame.asc != self._asc:
                self._asc = frame.asc
                self._out.append(
                    CodecConfig("audio", "aac", frame.asc, 0, 0, frame.sample_rate, frame.channels)
                )
            ticks = frame.offset * SAMPLES_PER_FRAME * 90_000 // frame.sample_rate
            self._emit("audio", (pts + ticks) % _WRAP, 0, True, frame.data)

    def _emit(self, kind: TrackKind, dts: int, offset: int, keyframe: bool, data: bytes) -> None:
        if offset >= _HALF:  # pts before dts: a broken muxer; play it at its dts
            offset = 0
        ms = (self._unwrap(dts) // _TICKS_PER_MS) % _MS_WRAP
        dts_ms, jumped = self._clock.rebase(ms, kind)
        if jumped:
            self._out.append(Discontinuity(f"{kind} timestamp jumped in the transport stream"))
        self._out.append(
            MediaPacket(kind, dts_ms, dts_ms + offset // _TICKS_PER_MS, keyframe, data)
        )

    def _unwrap(self, raw: int) -> int:
        """A 33-bit timestamp on a line that does not wrap, starting at 0 (the stream
        clock then unwraps the milliseconds modulo 2**32, as it does RTMP's)."""
        if self._last_raw is not None:
            step = (raw - self._last_raw) % _WRAP
            if step >= _HALF:
                step -= _WRAP
            self._unwrapped += step
        self._last_raw = raw
        return self._unwrapped
