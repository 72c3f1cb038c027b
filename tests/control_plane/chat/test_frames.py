from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.chat import frames

LIMIT = 4096


def test_chat_message() -> None:
    assert frames.decode_frame('{"type":"chat_message","content":"hi"}', LIMIT) == (
        frames.SendMessage("hi")
    )


def test_commands_parse() -> None:
    cases = {
        '{"type":"delete_message","id":"abc"}': frames.DeleteMessage("abc"),
        '{"type":"ban","user":"bob"}': frames.Ban("bob", ""),
        '{"type":"timeout","user":"bob","seconds":60}': frames.Timeout("bob", 60.0, ""),
        '{"type":"unban","user":"bob"}': frames.Unban("bob"),
        '{"type":"slow_mode","seconds":5}': frames.SetSlowMode(5.0),
        '{"type":"emote_only","enabled":true}': frames.SetEmoteOnly(True),
        '{"type":"banned_words","words":[" Spam "]}': frames.SetBannedWords(("Spam",)),
        '{"type":"add_moderator","user":"carol"}': frames.AddModerator("carol"),
        '{"type":"ping"}': frames.Ping(),
    }
    for text, expected in cases.items():
        assert frames.decode_frame(text, LIMIT) == expected


def test_refusals_name_the_problem() -> None:
    cases = {
        "not json": "invalid_json",
        "[1, 2]": "invalid_frame",
        '{"type":"shout"}': "unknown_type",
        '{"content":"no type"}': "unknown_type",
        '{"type":"chat_message","content":5}': "invalid_frame",
        '{"type":"timeout","user":"bob","seconds":-1}': "invalid_frame",
        '{"type":"timeout","user":"bob","seconds":true}': "invalid_frame",
        '{"type":"slow_mode","seconds":1e400}': "invalid_frame",
        '{"type":"emote_only","enabled":"yes"}': "invalid_frame",
        '{"type":"chat_message","content":"\\ud800"}': "invalid_frame",
        "[" * 100_000: "frame_too_large",
    }
    for text, code in cases.items():
        result = frames.decode_frame(text, 1 << 20 if code != "frame_too_large" else LIMIT)
        assert isinstance(result, frames.FrameError), text[:40]
        assert result.code == code, text[:40]


def test_size_is_checked_in_bytes_before_parsing() -> None:
    # 2,000 three-byte characters: under the limit in characters, over it in bytes
    text = json.dumps({"type": "chat_message", "content": "€" * 2000}, ensure_ascii=False)
    result = frames.decode_frame(text, LIMIT)
    assert isinstance(result, frames.FrameError) and result.code == "frame_too_large"
    assert frames.decode_frame(b"{}", LIMIT) == frames.FrameError(
        "unsupported_data", "send JSON text frames"
    )


def test_deeply_nested_json_is_refused_not_raised() -> None:
    result = frames.decode_frame("[" * 3000 + "]" * 3000, 1 << 20)
    assert isinstance(result, frames.FrameError)


def test_rest_commands_exclude_messages() -> None:
    assert isinstance(
        frames.decode_command({"type": "chat_message", "content": "x"}), frames.FrameError
    )
    assert frames.decode_command({"type": "unban", "user": "x"}) == frames.Unban("x")


def test_batch_frame_shapes() -> None:
    one = {"type": "chat_message", "id": "a"}
    assert json.loads(frames.batch_frame([one])) == one
    assert json.loads(frames.batch_frame([one, one])) == {"type": "batch", "messages": [one, one]}
    assert json.loads(frames.error_frame("rate_limited", "slow", 1.23456)) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow",
        "retry_after": 1.235,
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_fuzz_any_frame_decodes_or_is_refused(data: str | bytes) -> None:
    result = frames.decode_frame(data, 256)
    assert isinstance(result, frames.FrameError | frames.SendMessage | frames.Ping) or hasattr(
        result, "__dataclass_fields__"
    )


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(frames._PARSERS)),
    st.dictionaries(st.text(max_size=10), json_values, max_size=5),
)
def test_fuzz_typed_frames_with_random_fields(kind: str, fields: dict[str, object]) -> None:
    text = json.dumps({**fields, "type": kind})
    result = frames.decode_frame(text, 1 << 16)
    if isinstance(result, frames.SendMessage):
        assert isinstance(result.content, str)
    if isinstance(result, frames.Timeout):
        assert 0 <= result.seconds <= frames.MAX_TIMEOUT_SECONDS
