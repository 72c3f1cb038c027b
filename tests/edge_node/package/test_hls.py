"""The LL-HLS playlist model, renderers and blocking rules: text out, checked by m3u8 and us."""

from __future__ import annotations

from collections.abc import Callable

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.package.hls import (
    Blocking,
    MediaPlaylist,
    PlaylistConfig,
    PlaylistError,
    RenditionReport,
    Variant,
    decide,
    render_dvr,
    render_master,
    render_media,
)

T0 = 1_790_000_000.0
THIRD = 1 / 3


def build(
    segments: int, *, parts: int = 6, config: PlaylistConfig | None = None, close_last: bool = True
) -> MediaPlaylist:
    pl = MediaPlaylist(config or PlaylistConfig())
    for n in range(segments):
        pl.begin_segment(init="init.mp4", program_date_time=T0 + 2 * n, discontinuity=False)
        for i in range(parts):
            pl.add_part(THIRD, independent=i == 0, size=10_000)
        if close_last or n < segments - 1:
            pl.end_segment()
    return pl


def test_live_playlist_lists_recent_parts_only(check_playlist: Callable) -> None:
    pl = build(10)
    text = render_media(pl)
    checked = check_playlist(text)
    assert checked.segments == tuple(f"{n}.m4s" for n in range(10))
    # Parts for the segments starting within 3 target durations (6 s) of the end.
    assert checked.parts[0] == "7.0.m4s" and len(checked.parts) == 18
    assert checked.hint == "10.0.m4s"
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-09-21T" in text
    assert "#EXT-X-PART-INF:PART-TARGET=0.33966" in text
    assert "PART-HOLD-BACK=1.01898" in text
    assert "#EXT-X-VERSION:6" in text and "#EXT-X-ENDLIST" not in text


def test_open_segment_parts_and_hint(check_playlist: Callable) -> None:
    pl = build(3, parts=6, close_last=False)
    checked = check_playlist(render_media(pl))
    assert checked.segments == ("0.m4s", "1.m4s")
    assert checked.parts[-1] == "2.5.m4s"
    assert checked.hint == "2.6.m4s"
    assert pl.last_part() == (2, 5) and pl.next_part() == (2, 6)


def test_discontinuity_sequence_follows_the_window(check_playlist: Callable) -> None:
    config = PlaylistConfig(live_window=6.0)
    pl = build(2, config=config)
    pl.begin_segment(init="init-1.mp4", program_date_time=T0 + 3600, discontinuity=True)
    pl.add_part(THIRD, independent=True, size=1)
    pl.end_segment()
    text = render_media(pl)
    checked = check_playlist(text)
    assert checked.discontinuity_sequence == 0
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert '#EXT-X-MAP:URI="init-1.mp4"' in text
    parsed = m3u8.loads(text)
    assert [s.discontinuity for s in parsed.segments] == [False, False, True]
    # Once the discontinuity's segment is the first listed, the sequence still counts
    # the discontinuities before it; once it slides out, the sequence says 1.
    for n in range(4):
        pl.begin_segment(init="init-1.mp4", program_date_time=T0 + 3602 + n, discontinuity=False)
        pl.add_part(THIRD, independent=True, size=1)
        pl.add_part(1.0, independent=False, size=1)
        pl.add_part(1.0, independent=False, size=1)
        pl.end_segment()
    checked = check_playlist(render_media(pl))
    assert checked.media_sequence > 2 and checked.discontinuity_sequence == 1


def test_delta_update_skips_old_segments(check_playlist: Callable) -> None:
    pl = build(30)  # 60 s of segments, a 36 s live window, a 12 s skip boundary
    full = check_playlist(render_media(pl))
    delta_text = render_media(pl, skip=True)
    delta = check_playlist(delta_text)
    assert "#EXT-X-VERSION:9" in delta_text
    assert delta.media_sequence == full.media_sequence
    assert delta.skipped + len(delta.segments) == len(full.segments)
    assert full.segments[delta.skipped :] == delta.segments
    # Every segment left is within the skip boundary plus one segment of the end.
    assert len(delta.segments) * 2 <= 12 + 2
    assert m3u8.loads(delta_text).skip.skipped_segments == delta.skipped


def test_short_playlist_has_nothing_to_skip(check_playlist: Callable) -> None:
    text = render_media(build(4), skip=True)
    assert "#EXT-X-SKIP" not in text and check_playlist(text).skipped == 0


def test_rendition_reports_and_endlist(check_playlist: Callable) -> None:
    pl = build(2)
    text = render_media(pl, reports=[RenditionReport("../480p/index.m3u8", 1, 5)])
    parsed = m3u8.loads(text)
    assert parsed.rendition_reports[0].last_msn == 1
    assert parsed.rendition_reports[0].last_part == 5
    pl.end()
    ended = render_media(pl)
    assert ended.rstrip().endswith("#EXT-X-ENDLIST") and "PRELOAD-HINT" not in ended
    check_playlist(ended)
    with pytest.raises(PlaylistError):
        pl.begin_segment(init="init.mp4", program_date_time=T0, discontinuity=False)


def test_target_duration_grows_with_a_long_gop(check_playlist: Callable) -> None:
    pl = build(2)
    pl.begin_segment(init="init.mp4", program_date_time=T0 + 4, discontinuity=False)
    for i in range(30):
        pl.add_part(THIRD, independent=i == 0, size=1)
    assert pl.target_duration == 10  # already while the long segment is open
    pl.end_segment()
    checked = check_playlist(render_media(pl))
    assert checked.target == 10
    assert "CAN-SKIP-UNTIL=60.00000" in render_media(pl)


def test_blocking_decisions() -> None:
    empty = MediaPlaylist()
    assert decide(empty, 0, 0) is Blocking.WAIT
    assert decide(empty, 1, None) is Blocking.WAIT
    assert decide(empty, 2, None) is Blocking.TOO_FAR
    pl = build(3, close_last=False)  # 0 and 1 complete, 2 open with parts 0..5
    assert decide(pl, None, None) is Blocking.READY
    assert decide(pl, None, 3) is Blocking.TOO_FAR
    assert decide(pl, -1, None) is Blocking.TOO_FAR
    assert decide(pl, 1, None) is Blocking.READY
    assert decide(pl, 1, 5) is Blocking.READY
    # Past segment 1's last part: part 0 of segment 2, which exists.
    assert decide(pl, 1, 9) is Blocking.READY
    assert decide(pl, 2, 5) is Blocking.READY
    assert decide(pl, 2, 6) is Blocking.WAIT
    assert decide(pl, 2, None) is Blocking.WAIT  # the segment itself is not complete
    assert decide(pl, 3, 0) is Blocking.WAIT
    assert decide(pl, 3, None) is Blocking.WAIT
    # More than two segments past the last complete one (1): a Bad Request.
    assert decide(pl, 4, 0) is Blocking.TOO_FAR
    pl.end_segment()
    # Segment 2 closed at six parts: a request for its seventh waits for 3.0.
    assert decide(pl, 2, 6) is Blocking.WAIT
    pl.begin_segment(init="init.mp4", program_date_time=T0 + 6, discontinuity=False)
    assert decide(pl, 2, 6) is Blocking.WAIT
    pl.add_part(THIRD, independent=True, size=1)
    assert decide(pl, 2, 6) is Blocking.READY
    pl.end()
    assert decide(pl, 3, 0) is Blocking.READY


def test_dvr_window_evicts_segments_parts_and_inits(check_playlist: Callable) -> None:
    config = PlaylistConfig(live_window=4.0, dvr_window=10.0)
    pl = MediaPlaylist(config)
    evicted_segments: list[int] = []
    evicted_parts: list[int] = []
    evicted_inits: list[str] = []
    for n in range(12):
        init = "init.mp4" if n < 3 else "init-1.mp4"
        pl.begin_segment(init=init, program_date_time=T0 + 2 * n, discontinuity=n == 3)
        for i in range(6):
            pl.add_part(THIRD, independent=i == 0, size=1000)
        ev = pl.end_segment()
        evicted_segments += [msn for msn, _ in ev.segments]
        evicted_parts += [msn for msn, count in ev.part_files if count == 6]
        evicted_inits += ev.inits
    assert evicted_segments == [0, 1, 2, 3, 4, 5, 6]  # 5 segments of 2 s remain
    assert evicted_inits == ["init.mp4"]
    # Part files go once their segment leaves the live window (2 segments of 2 s here).
    assert evicted_parts == list(range(0, 10))
    dvr = render_dvr(pl)
    checked = check_playlist(dvr, low_latency=False)
    assert checked.segments == ("7.m4s", "8.m4s", "9.m4s", "10.m4s", "11.m4s")
    assert checked.discontinuity_sequence == 1
    assert dvr.count("#EXT-X-PROGRAM-DATE-TIME") == 5
    assert pl.bandwidth() == (24_000, 24_000)


def test_master_playlist() -> None:
    text = render_master(
        [
            Variant(
                "720p/index.m3u8", 3_300_000, 3_000_000, "avc1.64001f,mp4a.40.2", (1280, 720), 30
            ),
            Variant("audio/index.m3u8", 140_800, None, "mp4a.40.2"),
        ]
    )
    parsed = m3u8.loads(text)
    assert parsed.is_variant and "#EXT-X-INDEPENDENT-SEGMENTS" in text
    first, second = parsed.playlists
    assert first.stream_info.bandwidth == 3_300_000
    assert first.stream_info.average_bandwidth == 3_000_000
    assert first.stream_info.resolution == (1280, 720)
    assert first.stream_info.frame_rate == 30.0
    assert first.stream_info.codecs == "avc1.64001f,mp4a.40.2"
    assert second.stream_info.resolution is None


# One operation: (start a new segment?, discontinuity?, part duration, new init?)
ops_st = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.floats(0.01, 0.34), st.booleans()),
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(ops=ops_st, skip=st.booleans(), live_window=st.floats(4.0, 40.0))
def test_random_part_sequences_keep_the_invariants(
    check_playlist: Callable,
    ops: list[tuple[bool, bool, float, bool]],
    skip: bool,
    live_window: float,
) -> None:
    pl = MediaPlaylist(PlaylistConfig(live_window=live_window, dvr_window=2 * live_window))
    previous = None
    generation = 0
    clock = T0
    for new_segment, discontinuity, duration, new_init in ops:
        first_part = pl.open_segment is None
        if not first_part and new_segment:
            pl.end_segment()
            first_part = True
        if first_part:
            generation += int(new_init and discontinuity)
            pl.begin_segment(
                init=f"init-{generation}.mp4", program_date_time=clock, discontinuity=discontinuity
            )
        expected = pl.next_part()
        assert pl.add_part(duration, independent=first_part, size=100) == expected
        clock += duration
        checked = check_playlist(render_media(pl, skip=skip))
        assert checked.parts[-1] == f"{expected[0]}.{expected[1]}.m4s"
        assert decide(pl, *expected) is Blocking.READY
        assert decide(pl, *pl.next_part()) is Blocking.WAIT
        if previous is not None:
            assert checked.media_sequence >= previous.media_sequence
            assert checked.discontinuity_sequence >= previous.discontinuity_sequence
        previous = checked
        check_playlist(render_dvr(pl), low_latency=False)
