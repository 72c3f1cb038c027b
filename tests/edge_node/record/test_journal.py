"""The journal's state machine: steps only in order, a file that is no journal refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.record.journal import ORDER, Journal, JournalError, Step


def test_steps_advance_in_order_to_complete() -> None:
    journal = Journal("st_1")
    seen = []
    while (step := journal.next_step) is not None:
        seen.append(step)
        journal = journal.advance(step)
        assert Journal.decode(journal.encode()) == journal
    assert tuple(seen) == ORDER and journal.complete and journal.published


def test_a_step_out_of_order_is_refused() -> None:
    journal = Journal("st_1").advance(Step.SNAPSHOT)
    with pytest.raises(JournalError):
        journal.advance(Step.MP4)
    with pytest.raises(JournalError):
        journal.advance(Step.SNAPSHOT)
    assert not journal.published and journal.next_step is Step.LINK


def test_a_journal_with_steps_out_of_order_is_refused() -> None:
    with pytest.raises(JournalError):
        Journal.decode(b'{"vod_id":"x","done":["snapshot","mp4"]}')
    with pytest.raises(JournalError):
        Journal.decode(b'{"vod_id":"x","done":["teleport"]}')


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_any_bytes_are_a_journal_or_refused(data: bytes) -> None:
    try:
        journal = Journal.decode(data)
    except JournalError:
        return
    assert journal.done == ORDER[: len(journal.done)]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(ORDER)))
def test_every_prefix_round_trips(count: int) -> None:
    journal = Journal("v", ORDER[:count])
    assert Journal.decode(journal.encode()) == journal
    assert journal.next_step == (ORDER[count] if count < len(ORDER) else None)
