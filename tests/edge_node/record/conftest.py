"""A real ended stream for the recorder's tests: encoded test pattern through the
packager (two renditions, a broadcaster reconnect in the middle)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from edge_node.media import (
    EncodedEvent,
    EncodedSample,
    RenditionStart,
    SourceDiscontinuity,
    SourceEnd,
)
from edge_node.package.packager import PackagerConfig
from edge_node.package.registry import LiveStreams
from tests.edge_node.package.conftest import Clip, encode_clip

STREAM = "st_recorded"


@dataclass
class Ended:
    live: LiveStreams
    live_root: Path
    stream_id: str
    seconds: float  # media packaged, both halves


def _events(clip: Clip, rendition: str) -> list[EncodedEvent]:
    out: list[EncodedEvent] = [RenditionStart(rendition, clip.video, clip.audio)]
    for s in clip.samples:
        out.append(dataclasses.replace(s, rendition=rendition) if s.kind == "video" else s)
    return out


def _both(big: Clip, small: Clip) -> list[EncodedEvent]:
    """Two renditions of one moment, interleaved as the transcoder sends them."""
    first, second = _events(big, "high"), _events(small, "low")
    return [first[0], second[0], *_interleave(first[1:], second[1:])]


def _interleave(a: list[EncodedEvent], b: list[EncodedEvent]) -> Iterable[EncodedEvent]:
    # The audio is the same in both: send it once.
    yield from a
    yield from (e for e in b if not (isinstance(e, EncodedSample) and e.kind == "audio"))


@pytest.fixture
async def ended(tmp_path: Path) -> AsyncIterator[Ended]:
    """6 s, a reconnect (discontinuity), 4 s more; renditions 320x180 and 160x90."""
    media = tmp_path / "media"
    live = LiveStreams(media, PackagerConfig(), clock=lambda: 1.79e9)
    first = _both(encode_clip(6.0), encode_clip(6.0, width=160, height=90))
    later = encode_clip(4.0, pts_offset=90_000 * 100)
    second = _both(later, encode_clip(4.0, width=160, height=90, pts_offset=90_000 * 100))
    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)
        handle = await live.open_stream(STREAM)
        async with handle.send:
            for event in first:
                await handle.send.send(event)
            await handle.send.send(SourceDiscontinuity("broadcaster reconnected"))
            for event in second[2:]:
                await handle.send.send(event)
            await handle.send.send(SourceEnd("done"))
        with trio.fail_after(30):
            await handle.done.wait()
        yield Ended(live, media / "live", STREAM, 10.0)
        nursery.cancel_scope.cancel()
