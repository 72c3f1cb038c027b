"""The throttle on failed publishes: its decisions, its summaries and its size."""

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.ingest.throttle import FailureSummary, FailureThrottle

WINDOW = 60.0


def throttle(limit: int = 3, capacity: int = 100) -> FailureThrottle:
    return FailureThrottle(limit=limit, window=WINDOW, capacity=capacity)


def fail(t: FailureThrottle, address: str, times: int, now: float = 0.0) -> list[bool]:
    return [t.failed(address, now) for _ in range(times)]


def test_refuses_after_the_limit_until_the_window_has_passed() -> None:
    t = throttle(limit=3)
    assert fail(t, "a", 2) == [True, False]
    assert t.allows("a", 10.0)
    t.failed("a", 10.0)
    assert not t.allows("a", 10.0)
    assert not t.allows("a", WINDOW - 0.001)
    assert t.allows("a", WINDOW)


def test_addresses_are_counted_apart() -> None:
    t = throttle(limit=1)
    t.failed("a", 0.0)
    assert not t.allows("a", 1.0)
    assert t.allows("b", 1.0)


def test_one_summary_per_address_per_window() -> None:
    t = throttle(limit=2)
    fail(t, "a", 2)
    for _ in range(5):
        t.allows("a", 1.0)
    t.failed("b", 1.0)  # one failure alone was logged as it came: nothing to summarise
    assert t.summaries(WINDOW - 1) == []
    assert t.next_expiry() == WINDOW
    assert t.summaries(WINDOW + 1) == [FailureSummary("a", failures=2, throttled=5)]
    assert t.summaries(2 * WINDOW) == []
    assert t.next_expiry() is None and len(t) == 0


def test_a_new_window_starts_after_the_last_one_ended() -> None:
    t = throttle(limit=2)
    fail(t, "a", 2)
    assert fail(t, "a", 1, now=WINDOW) == [True]  # a new window's first: logged again
    assert t.summaries(WINDOW) == [FailureSummary("a", failures=2, throttled=0)]


def test_a_full_table_forgets_the_oldest_address_but_still_reports_it() -> None:
    t = throttle(limit=2, capacity=2)
    fail(t, "a", 2, now=0.0)
    fail(t, "b", 2, now=1.0)
    fail(t, "c", 1, now=2.0)
    assert t.allows("a", 3.0)  # forgotten to make room for "c"
    assert not t.allows("b", 3.0)
    assert t.summaries(3.0) == [FailureSummary("a", failures=2, throttled=0)]
    assert len(t) == 2


CAPACITY = 8


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["allows", "failed", "summaries"]),
            st.integers(min_value=0, max_value=10_000).map(str),
            st.floats(min_value=0, max_value=WINDOW / 4),
        ),
        max_size=400,
    )
)
def test_size_stays_bounded_for_any_sequence_of_addresses(
    steps: list[tuple[str, str, float]],
) -> None:
    t = FailureThrottle(limit=2, window=WINDOW, capacity=CAPACITY)
    now = 0.0
    for op, address, advance in steps:
        now += advance
        if op == "summaries":
            assert len(t.summaries(now)) <= CAPACITY
        else:
            getattr(t, op)(address, now)
        # At most CAPACITY addresses remembered and CAPACITY summaries waiting.
        assert len(t) <= 2 * CAPACITY
