"""The states of one RTMP connection and every move between them, in one table.

As in h11's `_state.py`: `RtmpConnection` changes state only through `transition()`,
which looks the move up in `TRANSITIONS`; a trigger with no entry for the current state
is the peer breaking the protocol (`RtmpProtocolError`). What each state lets through
(which messages are read, which are acted on) stays in `_connection.py`.

    HANDSHAKE --C0C1--> HANDSHAKE_ACK --C2--> AWAIT_CONNECT --CONNECT--> CONNECTED
    CONNECTED --PUBLISH--> PUBLISH_PENDING --ACCEPT--> PUBLISHING
    PUBLISH_PENDING, PUBLISHING --UNPUBLISH--> CONNECTED
    every state but CLOSED --CLOSE--> CLOSED
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto
from typing import Final

from ._errors import RtmpProtocolError


class State(Enum):
    HANDSHAKE = auto()  # waiting for C0+C1
    HANDSHAKE_ACK = auto()  # waiting for C2
    AWAIT_CONNECT = auto()
    CONNECTED = auto()
    PUBLISH_PENDING = auto()  # PublishRequested emitted, the owner has not decided yet
    PUBLISHING = auto()
    CLOSED = auto()


class Trigger(Enum):
    C0C1 = auto()  # the client's C0+C1 arrived (S0+S1+S2 are queued)
    C2 = auto()  # the client's C2 arrived
    CONNECT = auto()  # `connect` was answered with NetConnection.Connect.Success
    PUBLISH = auto()  # `publish`: PublishRequested is emitted
    ACCEPT = auto()  # the owner called accept_publish()
    UNPUBLISH = auto()  # FCUnpublish, deleteStream or closeStream
    CLOSE = auto()  # the end: peer EOF, a refusal, a rejected publish, a protocol error


INITIAL: Final = State.HANDSHAKE

TRANSITIONS: Final[Mapping[State, Mapping[Trigger, State]]] = {
    State.HANDSHAKE: {
        Trigger.C0C1: State.HANDSHAKE_ACK,
        Trigger.CLOSE: State.CLOSED,
    },
    State.HANDSHAKE_ACK: {
        Trigger.C2: State.AWAIT_CONNECT,
        Trigger.CLOSE: State.CLOSED,
    },
    State.AWAIT_CONNECT: {
        Trigger.CONNECT: State.CONNECTED,
        Trigger.CLOSE: State.CLOSED,
    },
    State.CONNECTED: {
        Trigger.PUBLISH: State.PUBLISH_PENDING,
        Trigger.CLOSE: State.CLOSED,
    },
    State.PUBLISH_PENDING: {
        Trigger.ACCEPT: State.PUBLISHING,
        Trigger.UNPUBLISH: State.CONNECTED,
        Trigger.CLOSE: State.CLOSED,
    },
    State.PUBLISHING: {
        Trigger.UNPUBLISH: State.CONNECTED,
        Trigger.CLOSE: State.CLOSED,
    },
    State.CLOSED: {},
}

# Input is handshake bytes, not chunks, in these.
HANDSHAKING: Final = frozenset((State.HANDSHAKE, State.HANDSHAKE_ACK))
# A publish was requested and has not ended: closing or unpublishing emits Unpublished.
IN_PUBLISH: Final = frozenset((State.PUBLISH_PENDING, State.PUBLISHING))


def transition(state: State, trigger: Trigger) -> State:
    """The state `trigger` leads to from `state`; RtmpProtocolError if none."""
    try:
        return TRANSITIONS[state][trigger]
    except KeyError:
        raise RtmpProtocolError(f"{trigger.name.lower()} while {state.name}") from None
