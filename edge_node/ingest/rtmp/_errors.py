"""The one exception the RTMP core raises."""

from __future__ import annotations


class RtmpProtocolError(Exception):
    """The peer broke the protocol or a configured limit; the connection must be closed.

    Nothing else escapes the core: every malformed input ends up here.
    """
