from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from edge_node.media import (
    EncodedEvent,
    EncodedSample,
    RenditionStart,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
)
from edge_node.transcode import worker as worker_module
from edge_node.transcode.encoders import EncoderUnavailable, probe_encoders
from edge_node.transcode.worker import RESTART_MESSAGE, TranscodeWorker
from shared.config import RenditionEntry, TranscodeSection

from .conftest import samples_of

Clip = Callable[..., list[SourceEvent]]
SMALL = TranscodeSection(
    ladder=[
        RenditionEntry(name="source", passthrough=True),
        RenditionEntry(name="160p30", height=160, video_bitrate=250_000, profile="baseline"),
    ]
)


def _children() -> set[int]:
    """Processes whose parent is this one, zombies included, straight from /proc."""
    me = str(os.getpid())
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    before = _children()
    yield
    assert _children() - before == set()


async def _run(
    worker: TranscodeWorker,
    events: list[SourceEvent],
    *,
    midway: Callable[[list[EncodedEvent]], object] | None = None,
) -> list[EncodedEvent]:
    out: list[EncodedEvent] = []
    source_send, source_receive = trio.open_memory_channel[SourceEvent](16)
    out_send, out_receive = trio.open_memory_channel[EncodedEvent](16)
    half = len(events) // 2
    producing = trio.Event()  # the worker has turned out a few samples

    async def feed() -> None:
        async with source_send:
            for event in events[:half]:
                await source_send.send(event)
            if midway is not None:
                await producing.wait()
                midway(out)
            # A worker that gave up closes its input: the sender sees it broken.
            with contextlib.suppress(trio.BrokenResourceError):
                for event in events[half:]:
                    await source_send.send(event)

    async def collect() -> None:
        async with out_receive:
            async for event in out_receive:
                out.append(event)
                if sum(1 for e in out if isinstance(e, EncodedSample)) >= 20:
                    producing.set()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run, source_receive, out_send)
            nursery.start_soon(feed)
            nursery.start_soon(collect)
    return out


async def test_worker_process_runs_the_ladder(clip: Clip) -> None:
    worker = TranscodeWorker(SMALL)
    assert worker.encoder == "libx264" or probe_encoders()[0].usable
    out = await _run(worker, [*clip(2.0), SourceEnd("broadcaster left")])
    assert out[-1] == SourceEnd("broadcaster left")
    assert {e.rendition for e in out if isinstance(e, RenditionStart)} == {
        "audio",
        "source",
        "160p30",
    }
    assert len(samples_of(out, "160p30")) >= 55
    stats = worker.stats()
    assert stats.pid is None and stats.restarts == 0


async def test_a_worker_discarding_its_output_takes_the_whole_stream_and_exits(
    clip: Clip,
) -> None:
    # The benchmark's "transcoder alone" side: it must run the ladder to the end
    # (not be taken for a crashed or wedged worker) and hand nothing over.
    worker = TranscodeWorker(SMALL, child_args=("--discard-output",))
    out = await _run(worker, [*clip(2.0), SourceEnd("benchmark over")])
    assert out == []
    stats = worker.stats()
    assert stats.pid is None and stats.restarts == 0


async def test_kill_9_restarts_from_a_keyframe_with_a_discontinuity(clip: Clip) -> None:
    worker = TranscodeWorker(SMALL)
    killed: list[int] = []

    def kill(_: list[EncodedEvent]) -> None:
        assert worker.pid is not None
        killed.append(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)

    out = await _run(worker, [*clip(5.0), SourceEnd("done")], midway=kill)
    assert killed
    breaks = [e for e in out if isinstance(e, SourceDiscontinuity)]
    assert [b.reason for b in breaks] == [RESTART_MESSAGE]
    after = out[out.index(breaks[0]) :]
    assert {"source", "160p30", "audio"} <= {
        e.rendition for e in after if isinstance(e, RenditionStart)
    }
    for name in ("source", "160p30"):
        resumed = samples_of(after, name)
        assert resumed and resumed[0].keyframe
    assert out[-1] == SourceEnd("done")
    assert worker.stats().restarts == 1


async def test_a_wedged_worker_is_killed_and_restarted(clip: Clip) -> None:
    worker = TranscodeWorker(SMALL, stall_timeout=1.0)
    stopped: list[int] = []

    def freeze(_: list[EncodedEvent]) -> None:
        assert worker.pid is not None
        stopped.append(worker.pid)
        os.kill(worker.pid, signal.SIGSTOP)  # alive, but neither reads nor writes

    out = await _run(worker, [*clip(4.0), SourceEnd("done")], midway=freeze)
    assert stopped
    assert [e.reason for e in out if isinstance(e, SourceDiscontinuity)] == [RESTART_MESSAGE]
    assert out[-1] == SourceEnd("done")


async def test_repeated_crashes_end_the_stream_not_the_node(
    clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "MAX_RESTARTS", 0)
    worker = TranscodeWorker(SMALL)

    def kill(_: list[EncodedEvent]) -> None:
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)

    out = await _run(worker, clip(3.0), midway=kill)
    assert isinstance(out[-1], SourceEnd) and "crashed" in out[-1].reason


async def test_cancellation_reaps_the_worker(clip: Clip) -> None:
    worker = TranscodeWorker(SMALL)
    source_send, source_receive = trio.open_memory_channel[SourceEvent](4)
    out_send, out_receive = trio.open_memory_channel[EncodedEvent](1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run, source_receive, out_send)
        pid = worker.pid
        for event in clip(0.5):
            await source_send.send(event)
        nursery.cancel_scope.cancel()
    assert pid is not None and worker.pid is None
    assert not await trio.Path(f"/proc/{pid}").exists()
    out_receive.close()
    source_send.close()


def test_forcing_nvenc_without_a_gpu_fails_at_start() -> None:
    if next(s for s in probe_encoders() if s.name == "h264_nvenc").usable:
        pytest.skip("this machine has NVENC")
    with pytest.raises(EncoderUnavailable, match="nvenc"):
        TranscodeWorker(TranscodeSection(encoder="nvenc"))
