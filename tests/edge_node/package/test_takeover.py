"""A stream taken over from an origin that died numbers on from that origin's playlist."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import m3u8
import pytest
import trio

from edge_node.media import SourceEnd
from edge_node.package.hls import MediaPlaylist
from edge_node.package.hls.model import PlaylistError
from edge_node.package.packager import Continuation, PackagerConfig
from edge_node.package.registry import LiveStreams
from tests.edge_node.package.test_registry import events_for, until


def test_playlist_continues_after_one_discontinuity() -> None:
    pl = MediaPlaylist()
    pl.continue_from(40, 2)
    assert (pl.start_msn, pl.next_msn, pl.last_complete_msn) == (40, 40, 39)
    assert pl.begin_segment(init="init.mp4", program_date_time=0.0, discontinuity=False) == 40
    first = pl.segments[0]
    assert first.discontinuity and first.discontinuity_count == 3
    assert pl.discontinuity_sequence == 3
    with pytest.raises(PlaylistError):
        pl.continue_from(50, 0)
    with pytest.raises(PlaylistError):
        MediaPlaylist().continue_from(0, 0)


@pytest.fixture
async def streams(tmp_path: Path) -> AsyncIterator[LiveStreams]:
    live = LiveStreams(tmp_path, PackagerConfig(live_window_seconds=8.0), clock=lambda: 1.79e9)
    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)
        yield live
        nursery.cancel_scope.cancel()


async def test_takeover_numbers_on_and_players_asking_old_numbers_wait(
    streams: LiveStreams, make_clip: Callable, check_playlist: Callable
) -> None:
    clip = make_clip(4.0)
    handle = await streams.open_stream("s1", continue_from=Continuation(57, 4))
    # A player still asking for the old origin's numbers waits for the first part
    # here instead of getting an empty playlist or a 400.
    async with trio.open_nursery() as nursery:
        answers: list[bytes | int] = []

        async def ask() -> None:
            answers.append(await streams.media_playlist("s1", "v", msn=55, part=2))

        nursery.start_soon(ask)
        async with handle.send:
            for event in events_for(clip, "v"):
                await handle.send.send(event)
            await until(lambda: answers)
            await handle.send.send(SourceEnd("done"))
    with trio.fail_after(30):
        await handle.done.wait()
    assert isinstance(answers[0], bytes) and b"#EXT-X-MEDIA-SEQUENCE:57" in answers[0]
    text = await streams.media_playlist("s1", "v")
    assert isinstance(text, bytes)
    check_playlist(text.decode())
    playlist = m3u8.loads(text.decode())
    assert playlist.media_sequence == 57 and playlist.discontinuity_sequence == 4
    assert playlist.segments[0].discontinuity and playlist.segments[0].uri == "57.m4s"
    assert text.count(b"#EXT-X-DISCONTINUITY\n") == 1
    assert streams.sequence("s1") == Continuation(57 + len(playlist.segments), 5)
    assert streams.sequence("nope") is None
