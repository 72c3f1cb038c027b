"""Which segments a clip needs and where in them it starts: pure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.record.clip_range import OutsideWindow, plan_clip
from edge_node.record.manifest import VodSegment


def _window(durations: list[float], first_msn: int = 0) -> list[VodSegment]:
    return [VodSegment(first_msn + i, d, "init.mp4", False, 1) for i, d in enumerate(durations)]


def test_a_range_inside_one_segment_run() -> None:
    plan = plan_clip(_window([2.0] * 10), 0.0, 3.5, 10.0)
    assert [s.msn for s in plan.segments] == [1, 2, 3, 4, 5, 6]
    assert plan.skip == pytest.approx(1.5) and plan.start == pytest.approx(3.5)


def test_a_range_on_segment_boundaries_takes_no_extra_segment() -> None:
    plan = plan_clip(_window([2.0] * 10), 0.0, 4.0, 6.0)
    assert [s.msn for s in plan.segments] == [2, 3, 4] and plan.skip == 0.0


def test_a_negative_offset_counts_back_from_the_live_edge() -> None:
    plan = plan_clip(_window([2.0] * 10), 0.0, -5.0, 5.0)
    assert [s.msn for s in plan.segments] == [7, 8, 9]
    assert plan.start == pytest.approx(15.0) and plan.skip == pytest.approx(1.0)


def test_a_window_that_starts_later_on_the_timeline() -> None:
    plan = plan_clip(_window([2.0] * 5, first_msn=100), 200.0, 203.0, 5.0)
    assert [s.msn for s in plan.segments] == [101, 102, 103]  # 202 s to 208 s


@pytest.mark.parametrize(
    ("offset", "duration"),
    [(-1.0, 5.0), (16.0, 5.0), (0.0, 4.0), (0.0, 61.0), (-25.0, 5.0), (18.0, 5.0)],
)
def test_outside_the_window_or_length_is_refused(offset: float, duration: float) -> None:
    with pytest.raises(OutsideWindow):
        plan_clip(_window([2.0] * 10), 0.0, offset, duration)


def test_an_empty_window_has_no_clip() -> None:
    with pytest.raises(OutsideWindow):
        plan_clip([], 0.0, 0.0, 5.0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0.5, max_value=4.0), min_size=1, max_size=60),
    st.floats(min_value=0.0, max_value=200.0),
    st.floats(min_value=5.0, max_value=60.0),
)
def test_a_plan_always_covers_its_range(
    durations: list[float], offset: float, duration: float
) -> None:
    window = _window(durations)
    try:
        plan = plan_clip(window, 0.0, offset, duration)
    except OutsideWindow:
        assert offset + duration > sum(durations) - 1e-3
        return
    covered = sum(s.duration for s in plan.segments)
    assert plan.skip >= 0
    assert plan.skip < plan.segments[0].duration + 1e-3
    assert covered >= plan.skip + duration - 1e-3
    # No segment is taken that the range does not touch.
    assert covered - plan.segments[-1].duration < plan.skip + duration + 1e-3
