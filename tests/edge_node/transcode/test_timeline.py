from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.transcode.timeline import (
    FramePacer,
    LagMonitor,
    SegmentGrid,
    TimestampGuard,
)


def test_steady_stream_is_untouched() -> None:
    guard = TimestampGuard()
    out = [guard.retime("video", t, t + 66) for t in range(0, 1000, 33)]
    assert [r.dts for r in out] == list(range(0, 1000, 33))
    assert all(r.pts == r.dts + 66 and not r.discontinuity for r in out)


def test_hour_jump_is_a_discontinuity_and_the_clock_continues() -> None:
    guard = TimestampGuard()
    guard.retime("video", 0, 0)
    guard.retime("audio", 10, 10)
    guard.retime("video", 33, 33)
    jumped = guard.retime("video", 3_600_033, 3_600_033)
    assert "jumped" in jumped.discontinuity
    assert jumped.dts == 33 + 33
    # Audio jumped with it: on the re-based clock it is continuous, no second break.
    audio = guard.retime("audio", 3_600_040, 3_600_040)
    assert not audio.discontinuity and audio.dts == 73


def test_backwards_dts_and_source_breaks() -> None:
    guard = TimestampGuard()
    guard.retime("video", 5000, 5000)
    back = guard.retime("video", 100, 100)
    assert "backwards" in back.discontinuity and back.dts == 5033
    guard.break_continuity("reconnect")
    again = guard.retime("video", 0, 0)
    assert again.discontinuity == "reconnect" and again.dts == 5066


def test_a_small_step_back_is_clamped_not_a_break() -> None:
    guard = TimestampGuard()
    guard.retime("audio", 1000, 1000)
    guard.retime("video", 1000, 1066)
    # Both tracks step back 21 ms (a clip looped by its video's length).
    audio = guard.retime("audio", 979, 979)
    video = guard.retime("video", 1012, 1078)
    assert not audio.discontinuity and audio.dts == audio.pts == 1001
    assert not video.discontinuity and (video.dts, video.pts) == (1012, 1078)
    assert guard.retime("audio", 1001, 1001).dts == 1002  # still clamped: 1 ms on
    assert guard.retime("audio", 1021, 1021).dts == 1021  # past its last: untouched
    far = guard.retime("video", 1012 - 101, 1012 - 101)
    assert "backwards by 101 ms" in far.discontinuity


def test_a_claimed_break_still_rebases_but_is_not_reported_twice() -> None:
    guard = TimestampGuard()
    guard.retime("video", 9000, 9000)
    guard.break_continuity("reconnect")
    assert guard.take_pending() == "reconnect"
    again = guard.retime("video", 0, 0)
    assert again.dts == 9033 and not again.discontinuity


def test_impossible_composition_offsets_are_clamped() -> None:
    guard = TimestampGuard()
    assert guard.retime("video", 100, 50).pts == 100
    assert guard.retime("video", 133, 100_000).pts == 133


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["video", "audio"]), st.integers(-(2**40), 2**40)), max_size=60
    )
)
def test_output_dts_never_goes_backwards_per_track(packets: list[tuple[str, int]]) -> None:
    guard = TimestampGuard()
    last: dict[str, int] = {}
    for kind, dts in packets:
        r = guard.retime(kind, dts, dts)  # type: ignore[arg-type]
        assert r.dts >= last.get(kind, r.dts)
        if not r.discontinuity:
            assert r.dts - last.get(kind, r.dts) <= 5_000
        last[kind] = r.dts


def test_segment_grid_every_two_seconds_with_ms_rounding() -> None:
    grid = SegmentGrid(180_000)
    frames = [round(n * 1000 / 30) * 90 + 9_000 for n in range(301)]
    starts = [pts for pts in frames if grid.is_boundary(pts)]
    assert starts == [9_000 + k * 180_000 for k in range(6)]


def test_segment_grid_after_a_gap_takes_the_next_frame() -> None:
    grid = SegmentGrid(180_000)
    assert grid.is_boundary(0)
    assert not grid.is_boundary(90_000)
    assert grid.is_boundary(500_000)  # past two boundaries at once
    assert not grid.is_boundary(530_000)
    assert grid.is_boundary(540_000)


def test_pacer_halves_sixty_fps_but_keeps_boundaries() -> None:
    pacer = FramePacer(30.0)
    frames = [round(n * 1000 / 60) * 90 for n in range(120)]
    kept = [p for i, p in enumerate(frames) if pacer.keep(p, boundary=i == 61)]
    assert 60 <= len(kept) <= 62
    assert frames[61] in kept


def test_lag_monitor_sheds_once_per_cooldown_and_ignores_stalls() -> None:
    lag = LagMonitor(threshold=3.0, cooldown=5.0)
    assert not lag.observe(0.0, 0.0)
    assert not lag.observe(10.0, 20.0)  # faster than live: ahead, re-anchored
    assert not lag.observe(12.0, 20.5)
    assert lag.lag == 1.5
    assert lag.observe(14.0, 20.9)  # 3.1 s behind: shed
    assert not lag.observe(18.5, 21.0)  # 4.4 s behind again, but inside the cooldown
    lag.idle(30.0, 21.0)  # waiting for input: a stall is not lag
    assert not lag.observe(31.0, 22.0) and lag.lag == 0.0


def test_an_uncapped_pacer_keeps_frames_however_close() -> None:
    pacer = FramePacer(0.0)
    assert all(pacer.keep(pts, False) for pts in (0, 1000, 1001, 4000))
