"""Bounds on what a peer may send before we refuse it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    # Request line plus all header lines; past it the answer is 431 (or 414 for the URL).
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_target_bytes: int = 4096
    # Delivery routes are GET/HEAD/OPTIONS: a body is tolerated only this big.
    max_body_bytes: int = 1024
    # Methods past GET/HEAD/OPTIONS the app takes (WHIP ingest: POST, DELETE); only a
    # POST body is kept, up to `max_post_body_bytes` (an SDP offer is a few kB).
    extra_methods: frozenset[bytes] = frozenset()
    max_post_body_bytes: int = 64 * 1024
    # Requests parsed ahead of the one being answered (pipelining); more waits unparsed.
    max_pipelined: int = 64
