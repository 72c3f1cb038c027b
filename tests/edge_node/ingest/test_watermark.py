from edge_node.ingest.rtmp._watermark import (
    GATHER_SECONDS,
    MAX_LEVEL,
    MIN_LEVEL,
    RATE_WINDOW,
    ReadWatermark,
)


def measured(bytes_per_second: int) -> ReadWatermark:
    watermark = ReadWatermark()
    watermark.received(0.0, 0)
    watermark.received(RATE_WINDOW, bytes_per_second)
    return watermark


def test_wakes_for_any_byte_until_a_bitrate_is_measured() -> None:
    watermark = ReadWatermark()
    assert watermark.level(0) == MIN_LEVEL
    watermark.received(0.0, 5000)
    watermark.received(RATE_WINDOW / 2, 5000)
    assert watermark.level(0) == MIN_LEVEL


def test_between_messages_gathers_a_few_milliseconds_of_the_stream() -> None:
    assert measured(750_000).level(0) == int(750_000 * GATHER_SECONDS)


def test_level_is_clamped() -> None:
    assert measured(10).level(0) == MIN_LEVEL
    assert measured(1_000_000_000).level(0) == MAX_LEVEL


def test_mid_message_waits_for_the_rest_of_it() -> None:
    watermark = measured(750_000)
    assert watermark.level(20_000) == 20_000
    assert watermark.level(100) == 100
    assert watermark.level(10 * MAX_LEVEL) == MAX_LEVEL


def test_a_stall_turns_it_off_for_the_connection() -> None:
    watermark = measured(750_000)
    watermark.stalled()
    assert watermark.level(0) == MIN_LEVEL
    assert watermark.level(20_000) == MIN_LEVEL
    watermark.received(10.0, 10_000_000)
    assert watermark.level(0) == MIN_LEVEL
