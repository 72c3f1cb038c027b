"""The body bounds: nesting measured on bytes before any decoder recurses into them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_plane.bodies import check_body, json_depth
from control_plane.errors import BadRequest

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("[]{}x"), inner, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(_json)
def test_depth_of_any_json_value(value: Any) -> None:
    # Brackets inside strings (escaped quotes and backslashes too) do not count.
    assert json_depth(json.dumps(value).encode()) == _depth(value)


@given(st.binary(max_size=2000))
def test_any_bytes_have_a_depth(body: bytes) -> None:
    assert json_depth(body) >= 0


def test_deep_bodies_are_refused_before_decoding() -> None:
    check_body(b"[" * 32 + b"]" * 32, 32)
    with pytest.raises(BadRequest, match="nested deeper than 32"):
        check_body(b'{"a":' * 33 + b"1" + b"}" * 33, 32)
    with pytest.raises(BadRequest):
        check_body(b"[" * 100_000, 32)  # unclosed: still measured, still refused


def test_an_unclosed_string_is_measured_in_one_pass() -> None:
    # `"\"\"...` never closes; a backtracking pattern took quadratic time on it.
    # Unclosed, it hides nothing: the brackets after it still count.
    assert json_depth(b'"' + b'\\"' * 30_000 + b"[[") == 2
    assert json_depth(b'["\\\\", ["\\""]]') == 2
