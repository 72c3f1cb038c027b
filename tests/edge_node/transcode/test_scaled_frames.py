from __future__ import annotations

import threading

import av

from edge_node.transcode.video import ScaledFrames


def picture() -> av.VideoFrame:
    return av.VideoFrame(16, 16, "yuv420p")


def test_a_published_picture_is_the_one_taken() -> None:
    scaled = ScaledFrames(keep=4)
    first, second = picture(), picture()
    scaled.publish(0, first)
    scaled.publish(1, second)
    assert scaled.take(0) is first
    assert scaled.take(1) is second


def test_a_skipped_job_gives_none_so_the_reader_scales_the_source() -> None:
    scaled = ScaledFrames(keep=4)
    scaled.publish(0, None)
    assert scaled.take(0) is None


def test_a_picture_no_longer_held_gives_none() -> None:
    scaled = ScaledFrames(keep=2)
    kept = picture()
    for index, frame in enumerate([picture(), picture(), kept]):
        scaled.publish(index, frame)
    assert scaled.take(0) is None
    assert scaled.take(2) is kept


def test_a_stopped_writer_never_keeps_the_reader_waiting() -> None:
    scaled = ScaledFrames(keep=4)
    scaled.stop()
    assert scaled.take(7) is None


def test_the_reader_waits_for_the_writer() -> None:
    scaled = ScaledFrames(keep=4)
    frame = picture()
    taken: list[av.VideoFrame | None] = []
    reader = threading.Thread(target=lambda: taken.append(scaled.take(3)))
    reader.start()
    for index in range(3):
        scaled.publish(index, picture())
    scaled.publish(3, frame)
    reader.join()
    assert taken == [frame]
