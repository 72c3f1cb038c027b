from edge_node.ingest.rtmp._clock import StreamClock


def feed(clock: StreamClock, stamps: list[tuple[int, str]]) -> list[tuple[int, bool]]:
    return [clock.rebase(raw, kind) for raw, kind in stamps]  # type: ignore[arg-type]


def test_starts_at_zero_wherever_the_encoder_starts() -> None:
    assert feed(StreamClock(), [(90_000, "video"), (90_033, "video"), (90_010, "audio")]) == [
        (0, False),
        (33, False),
        (10, False),
    ]


def test_unwraps_32_bit_rollover() -> None:
    top = (1 << 32) - 20
    assert feed(StreamClock(), [(top, "video"), (13, "video"), (46, "video")]) == [
        (0, False),
        (33, False),
        (66, False),
    ]


def test_small_steps_back_between_tracks_are_interleaving_not_jumps() -> None:
    result = feed(StreamClock(), [(1000, "video"), (1100, "video"), (1050, "audio")])
    assert result == [(0, False), (100, False), (50, False)]


def test_each_track_strictly_increases() -> None:
    result = feed(StreamClock(), [(0, "video"), (40, "video"), (40, "video"), (30, "video")])
    assert [dts for dts, _ in result] == [0, 40, 41, 42]


def test_big_jumps_re_anchor_and_are_reported() -> None:
    result = feed(StreamClock(), [(5000, "video"), (5033, "video"), (10, "video"), (43, "video")])
    assert result == [(0, False), (33, False), (34, True), (67, False)]
    forward = feed(StreamClock(), [(0, "audio"), (23, "audio"), (3_600_000, "audio")])
    assert forward[-1] == (24, True)
