"""Reading the stream key out of an SRT stream id: a pure function, decided in the handshake.

Encoders put the key in the stream id in one of two forms:
- the bare key (`srt://host:port?streamid=KEY`), what OBS and most hardware encoders do;
- SRT's access-control syntax, `#!::r=KEY,m=publish` (github.com/Haivision/srt,
  docs/features/access-control.md), where other keys (`u`, `s`, `t`, `h`) are ignored.

A `live/KEY` resource is taken as KEY: that is what SRS-style URLs name, and "live" is
the only application there is. Anything else odd is refused before any media flows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# SRT caps the stream id at 512 bytes; a key is far shorter.
MAX_KEY_LENGTH = 256
_ACCESS_CONTROL = "#!::"
_KEY = re.compile(rf"[A-Za-z0-9_.~+=-]{{1,{MAX_KEY_LENGTH}}}\Z")
_APP_PREFIX = "live/"
_PUBLISH_MODES = frozenset({"publish"})
_MODES = frozenset({"request", "publish", "bidirectional"})

# SRT's predefined rejection reasons (srt.h, SRT_REJX_*): 1000 + the HTTP status.
REJECT_BAD_REQUEST = 1400
REJECT_UNAUTHORIZED = 1401
REJECT_FORBIDDEN = 1403
REJECT_BAD_MODE = 1405
REJECT_CONFLICT = 1409
REJECT_OVERLOAD = 1503


@dataclass(frozen=True, slots=True)
class PublishKey:
    key: str


@dataclass(frozen=True, slots=True)
class StreamIdRejected:
    code: int  # REJECT_BAD_REQUEST or REJECT_BAD_MODE
    reason: str


def parse_stream_id(stream_id: str) -> PublishKey | StreamIdRejected:
    """The stream key a caller publishes with, or why its stream id is refused."""
    if "%" in stream_id:
        # Some encoders (ffmpeg 5 among them) pass the `streamid=` of an srt:// URL on
        # without decoding it, and users percent-encode `#!::` there. No key has a '%'.
        stream_id = unquote(stream_id, errors="replace")
    if not stream_id.startswith(_ACCESS_CONTROL):
        return _key(stream_id)
    fields: dict[str, str] = {}
    for item in stream_id[len(_ACCESS_CONTROL) :].split(","):
        name, sep, value = item.partition("=")
        if not sep or not name:
            return StreamIdRejected(REJECT_BAD_REQUEST, f"malformed stream id field {item!r:.40}")
        if name in fields:
            return StreamIdRejected(REJECT_BAD_REQUEST, f"stream id field {name!r:.20} repeated")
        fields[name] = value
    # The syntax's default mode is `request`, but a caller naming none is an encoder that
    # only knows `r=`: this listener takes nothing but publishers, so take it as one.
    mode = fields.get("m", "publish")
    if mode not in _PUBLISH_MODES:
        known = "unknown mode" if mode not in _MODES else f"mode {mode!r}"
        return StreamIdRejected(REJECT_BAD_MODE, f"{known}: this listener takes m=publish only")
    if "r" not in fields:
        return StreamIdRejected(REJECT_BAD_REQUEST, "stream id has no resource (r=KEY)")
    return _key(fields["r"])


def _key(resource: str) -> PublishKey | StreamIdRejected:
    if resource.startswith(_APP_PREFIX):
        resource = resource[len(_APP_PREFIX) :]
    if not resource:
        return StreamIdRejected(REJECT_BAD_REQUEST, "empty stream key")
    if not _KEY.match(resource):
        return StreamIdRejected(REJECT_BAD_REQUEST, "malformed stream key")
    return PublishKey(resource)
