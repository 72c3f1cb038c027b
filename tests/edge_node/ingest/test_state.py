"""The RTMP connection's transition table (`_state.py`), and the core held to it."""

import pytest
from rtmp_testclient import Publisher, drain

from edge_node.ingest.rtmp import Closed, RtmpConnection, RtmpProtocolError, State
from edge_node.ingest.rtmp._state import INITIAL, TRANSITIONS, Trigger, transition


def test_every_state_has_a_row_and_every_move_lands_on_a_state() -> None:
    assert set(TRANSITIONS) == set(State)
    for moves in TRANSITIONS.values():
        assert set(moves) <= set(Trigger)
        assert set(moves.values()) <= set(State)


def test_every_state_is_reachable_from_the_start() -> None:
    seen, frontier = {INITIAL}, [INITIAL]
    while frontier:
        for target in TRANSITIONS[frontier.pop()].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(State)


def test_closed_is_the_only_terminal_state_and_every_other_can_close() -> None:
    assert [state for state, moves in TRANSITIONS.items() if not moves] == [State.CLOSED]
    for state in set(State) - {State.CLOSED}:
        assert transition(state, Trigger.CLOSE) is State.CLOSED


def test_every_trigger_is_used() -> None:
    assert {trigger for moves in TRANSITIONS.values() for trigger in moves} == set(Trigger)


def test_a_move_not_in_the_table_is_a_protocol_error() -> None:
    with pytest.raises(RtmpProtocolError, match="publish while PUBLISHING"):
        transition(State.PUBLISHING, Trigger.PUBLISH)
    with pytest.raises(RtmpProtocolError, match="close while CLOSED"):
        transition(State.CLOSED, Trigger.CLOSE)
    for state in State:
        for trigger in set(Trigger) - set(TRANSITIONS[state]):
            with pytest.raises(RtmpProtocolError):
                transition(state, trigger)


def test_a_second_publish_on_the_wire_is_refused_by_the_table() -> None:
    conn = RtmpConnection()
    pub = Publisher()
    conn.receive_data(pub.opening("KEY"))
    drain(conn)
    conn.accept_publish()
    assert conn.state is State.PUBLISHING
    conn.receive_data(pub.command("publish", 6, None, "KEY", "live", stream_id=1))
    with pytest.raises(RtmpProtocolError, match="publish while PUBLISHING"):
        conn.next_event()
    assert conn.state is State.CLOSED
    assert conn.next_event() == Closed("protocol error")
