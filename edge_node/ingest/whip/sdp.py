"""Checking a WHIP offer before anything else sees it (pure).

aiortc's own SDP parser assumes well-formed input and raises whatever it trips over;
this check turns the offers we cannot or will not take into a status and a reason the
broadcaster can act on (RFC 9725 section 4.2: 400 for malformed, 415 for unusable media),
and bounds what reaches the WebRTC worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An offer from a browser or OBS is 3-8 kB; a few times that leaves room for many
# candidates without letting anyone park a megabyte per request in the worker.
MAX_OFFER_BYTES = 32 * 1024
MAX_LINES = 1000
MAX_MEDIA_SECTIONS = 8

_LINE = re.compile(r"[a-z]=[^\x00-\x08\x0a-\x1f\x7f]*")
_MEDIA = re.compile(r"m=(\w+) (\d+)(?:/\d+)? ([A-Za-z0-9/]+)((?: [A-Za-z0-9-]+)+)")
_RTPMAP = re.compile(r"a=rtpmap:(\d{1,3}) ([A-Za-z0-9_.-]+)/(\d+)(?:/(\d+))?")
_FMTP = re.compile(r"a=fmtp:(\d{1,3}) (.*)")


class OfferRefused(ValueError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MediaSection:
    kind: str  # "audio", "video", "application"
    codecs: tuple[str, ...]  # lower-case encoding names of its rtpmap lines
    h264_packetization: tuple[str, ...] = ()  # packetization-mode of each H.264 format


@dataclass(frozen=True, slots=True)
class Offer:
    text: str
    media: tuple[MediaSection, ...]

    @property
    def has_audio(self) -> bool:
        return any(m.kind == "audio" for m in self.media)


def check_offer(body: bytes) -> Offer:
    """The offer, or `OfferRefused` saying why not; never any other exception."""
    if len(body) > MAX_OFFER_BYTES:
        raise OfferRefused(413, f"SDP offer larger than {MAX_OFFER_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OfferRefused(400, "SDP offer is not UTF-8") from None
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise OfferRefused(400, "not an SDP offer (must start with v=0)")
    if len(lines) > MAX_LINES:
        raise OfferRefused(400, f"SDP offer has more than {MAX_LINES} lines")
    for number, line in enumerate(lines, 1):
        if not _LINE.fullmatch(line):
            raise OfferRefused(400, f"malformed SDP line {number}")
    sections = _sections(lines)
    _require_transport(lines, sections)
    media = tuple(_media(section) for section in sections)
    _require_codecs(media)
    return Offer(text if text.endswith("\n") else text + "\r\n", media)


def _sections(lines: list[str]) -> list[list[str]]:
    """The lines of each m= section, the m= line first."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            if len(sections) >= MAX_MEDIA_SECTIONS:
                raise OfferRefused(400, f"more than {MAX_MEDIA_SECTIONS} media sections")
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    if not sections:
        raise OfferRefused(400, "SDP offer has no media sections")
    return sections


def _require_transport(lines: list[str], sections: list[list[str]]) -> None:
    session = lines[: lines.index(sections[0][0])]
    for section in sections:
        attributes = session + section
        if not any(a.startswith("a=ice-ufrag:") for a in attributes):
            raise OfferRefused(400, "media section without ICE credentials (a=ice-ufrag)")
        if not any(a.startswith("a=ice-pwd:") for a in attributes):
            raise OfferRefused(400, "media section without ICE credentials (a=ice-pwd)")
        if not any(a.startswith("a=fingerprint:") for a in attributes):
            raise OfferRefused(400, "media section without a DTLS fingerprint")


def _media(section: list[str]) -> MediaSection:
    match = _MEDIA.fullmatch(section[0])
    if match is None:
        raise OfferRefused(400, f"malformed media line {section[0][:60]!r}")
    kind, _port, proto, _formats = match.groups()
    if kind in ("audio", "video") and proto != "UDP/TLS/RTP/SAVPF":
        raise OfferRefused(400, f"{kind} over {proto}: WebRTC needs UDP/TLS/RTP/SAVPF")
    codecs: dict[str, str] = {}
    for line in section[1:]:
        if rtpmap := _RTPMAP.fullmatch(line):
            codecs[rtpmap.group(1)] = rtpmap.group(2).lower()
    packetization = []
    for line in section[1:]:
        fmtp = _FMTP.fullmatch(line)
        if fmtp and codecs.get(fmtp.group(1)) == "h264":
            params = dict(_param(p) for p in fmtp.group(2).split(";") if p.strip())
            packetization.append(params.get("packetization-mode", "0"))
    return MediaSection(kind, tuple(codecs.values()), tuple(packetization))


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.strip().partition("=")
    return key.lower(), value.strip()


def _require_codecs(media: tuple[MediaSection, ...]) -> None:
    video = [m for m in media if m.kind == "video"]
    audio = [m for m in media if m.kind == "audio"]
    if not video:
        # The ladder, the stills and the players all start from a picture.
        raise OfferRefused(415, "the offer has no video; send H.264 video (and Opus audio)")
    if len(video) > 1 or len(audio) > 1:
        raise OfferRefused(400, "send one video and at most one audio track")
    if "h264" not in video[0].codecs:
        offered = ", ".join(sorted(set(video[0].codecs) - {"rtx", "red", "ulpfec"})) or "none"
        raise OfferRefused(415, f"video codecs {offered} not supported; send H.264")
    if video[0].h264_packetization and "1" not in video[0].h264_packetization:
        raise OfferRefused(415, "H.264 must be offered with packetization-mode=1")
    if audio and "opus" not in audio[0].codecs:
        offered = ", ".join(sorted(set(audio[0].codecs))) or "none"
        raise OfferRefused(415, f"audio codecs {offered} not supported; send Opus")
