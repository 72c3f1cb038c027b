"""The node's handle on one stream's transcode worker process.

Process model: each stream gets a `python -m edge_node.transcode.child` subprocess
(not multiprocessing: a plain child with pipes is what trio can await, and a spawn
context would re-import the node in the child). Both pipes carry length-prefixed
pickles of `edge_node.media` values (`framing`). A crash in FFmpeg kills that child
only; `TranscodeWorker.run` notices, emits `SourceDiscontinuity("worker restarted")`
and starts a new one that resumes at the next video keyframe. The child is always
reaped before `run` returns, cancelled or not.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import cast

import msgspec
import trio

from edge_node.channels import bursts
from edge_node.media import (
    EncodedEvent,
    RenditionStart,
    RenditionStop,
    SourceConfig,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
    SourcePacket,
)
from edge_node.transcode import framing
from edge_node.transcode.child import SETTINGS_ENV
from edge_node.transcode.encoders import choose_h264, probe_encoders
from edge_node.transcode.pipeline import PipelineStats
from shared.config import TranscodeSection

log = logging.getLogger(__name__)

RESTART_MESSAGE = "worker restarted"
# More crashes than this inside the window means the input itself kills FFmpeg.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
STOP_GRACE = 2.0
# Input blocked and no output for this long: the worker is wedged, not slow.
STALL_TIMEOUT = 10.0
_READ_SIZE = 256 * 1024
_BATCH = 64


@dataclass(frozen=True, slots=True)
class WorkerStats:
    lag: float  # seconds behind real time
    fps: float  # source video frames taken per second
    renditions: tuple[str, ...]  # active video renditions
    restarts: int
    pid: int | None  # the running worker process, None between runs


@dataclass(slots=True)
class _Session:
    last_output: float  # when the worker last produced media (not stats)
    ended: bool = False  # the worker sent SourceEnd: the stream is over, not crashed
    source_done: bool = False
    writing_since: float | None = None  # a write to its stdin is blocked since then
    delivering: bool = False  # waiting on our reader: a slow packager is not a stall


class TranscodeWorker:
    """Runs one stream's ladder in a child process; restarts it when it dies."""

    def __init__(
        self,
        settings: TranscodeSection,
        *,
        encoder: str | None = None,
        log_level: str = "warning",
        stall_timeout: float = STALL_TIMEOUT,
        child_args: tuple[str, ...] = (),
    ) -> None:
        # Probing (and a forced but absent NVENC) fails here, in the node, at start.
        self._encoder = encoder or choose_h264(settings.encoder, probe_encoders())
        self._settings = settings
        self._log_level = log_level
        self._stall_timeout = stall_timeout
        self._child_args = child_args  # extra flags for the child (benchmarks)
        self._config: SourceConfig | None = None
        self._stats = PipelineStats(0.0, 0.0, ())
        self._active: set[str] = set()
        self._restarts = 0
        self._crashes: list[float] = []
        self._process: trio.Process | None = None

    @property
    def encoder(self) -> str:
        return self._encoder

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stats(self) -> WorkerStats:
        return WorkerStats(
            lag=self._stats.lag,
            fps=self._stats.fps,
            renditions=tuple(sorted(self._active)),
            restarts=self._restarts,
            pid=self.pid,
        )

    async def run(
        self,
        source: trio.MemoryReceiveChannel[SourceEvent],
        out: trio.MemorySendChannel[EncodedEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Transcode `source` into `out` until the source ends; closes both channels."""
        async with source, out:
            resume = False
            try:
                while True:
                    session = _Session(last_output=trio.current_time())
                    async with self._spawned() as process:
                        if task_status is not trio.TASK_STATUS_IGNORED:
                            task_status.started()
                            task_status = trio.TASK_STATUS_IGNORED
                        await self._serve(process, source, out, session, resume)
                    if session.ended or (session.source_done and process.returncode == 0):
                        return
                    if not await self._after_crash(process.returncode, out):
                        return
                    resume = True
            except trio.BrokenResourceError:
                log.info("transcode output closed by its reader; stopping the worker")

    # ---------------------------------------------------------------- process

    def _spawned(self) -> _Spawned:
        env = dict(os.environ)
        env[SETTINGS_ENV] = msgspec.json.encode(self._settings).decode()
        command = [
            sys.executable,
            "-m",
            "edge_node.transcode.child",
            "--encoder",
            self._encoder,
            "--log-level",
            self._log_level,
            *self._child_args,
        ]
        return _Spawned(self, command, env)

    async def _after_crash(
        self, returncode: int | None, out: trio.MemorySendChannel[EncodedEvent]
    ) -> bool:
        """Announce the restart; False (stream ended) when it keeps crashing."""
        now = trio.current_time()
        self._crashes = [t for t in self._crashes if now - t < RESTART_WINDOW] + [now]
        log.warning("transcode worker exited with %s; restarting", returncode)
        if len(self._crashes) > MAX_RESTARTS:
            reason = f"transcoder crashed {len(self._crashes)} times in {RESTART_WINDOW:.0f} s"
            for name in sorted(self._active):
                await out.send(RenditionStop(name, reason))
            await out.send(SourceEnd(reason))
            log.error("giving up on the stream: %s", reason)
            return False
        self._restarts += 1
        self._active.clear()
        await out.send(SourceDiscontinuity(RESTART_MESSAGE))
        return True

    # ----------------------------------------------------------------- serving

    async def _serve(
        self,
        process: trio.Process,
        source: trio.MemoryReceiveChannel[SourceEvent],
        out: trio.MemorySendChannel[EncodedEvent],
        session: _Session,
        resume: bool,
    ) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._feed, process, source, session, resume)
            nursery.start_soon(self._watch, process, session)
            await self._forward(process, out, session)
            # The worker's output ended: it exited. Whatever the feeder holds is lost.
            nursery.cancel_scope.cancel()

    async def _feed(
        self,
        process: trio.Process,
        source: trio.MemoryReceiveChannel[SourceEvent],
        session: _Session,
        resume: bool,
    ) -> None:
        assert process.stdin is not None
        stdin = process.stdin
        skipping = resume and self._config is not None and self._config.video is not None
        try:
            if resume and self._config is not None:
                await stdin.send_all(framing.encode([self._config]))
            async for batch in bursts(source, _BATCH):
                kept: list[SourceEvent] = []
                for event in batch:
                    if isinstance(event, SourceConfig):
                        self._config = event
                    elif isinstance(event, SourcePacket) and skipping:
                        if not (event.kind == "video" and event.keyframe):
                            continue
                        skipping = False
                    kept.append(event)
                if kept:
                    session.writing_since = trio.current_time()
                    await stdin.send_all(framing.encode(kept))
                    session.writing_since = None
                if any(isinstance(event, SourceEnd) for event in kept):
                    break
            session.source_done = True
            await stdin.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the worker died; the forwarder sees its output end

    async def _watch(self, process: trio.Process, session: _Session) -> None:
        """A wedged worker (FFmpeg stuck, process stopped) neither reads nor writes and
        never exits by itself: kill it, and the crash path restarts it."""
        while True:
            await trio.sleep(self._stall_timeout / 4)
            now = trio.current_time()
            blocked_for = now - (session.writing_since or now)
            silent = not session.delivering and now - session.last_output > self._stall_timeout
            if blocked_for > self._stall_timeout and silent:
                log.error("transcode worker stalled for %.0f s; killing it", blocked_for)
                process.kill()
                return

    async def _forward(
        self,
        process: trio.Process,
        out: trio.MemorySendChannel[EncodedEvent],
        session: _Session,
    ) -> None:
        assert process.stdout is not None
        reader = framing.FrameReader()
        async with process.stdout:
            while data := await process.stdout.receive_some(_READ_SIZE):
                try:
                    values = reader.feed(data)
                except framing.FramingError as exc:
                    log.error("transcode worker sent garbage, stopping it: %s", exc)
                    process.kill()
                    return
                await self._deliver(values, out, session)

    async def _deliver(
        self, values: list[object], out: trio.MemorySendChannel[EncodedEvent], session: _Session
    ) -> None:
        """Hand a batch over without a scheduler round per value (the pipe read already
        was one); wait only while the reader's queue is full."""
        media = False
        for value in values:
            if isinstance(value, PipelineStats):
                self._stats = value
                continue
            if isinstance(value, RenditionStart) and value.video is not None:
                self._active.add(value.rendition)
            elif isinstance(value, RenditionStop):
                self._active.discard(value.rendition)
            elif isinstance(value, SourceEnd):
                session.ended = True
                self._active.clear()
            media = True
            event = cast(EncodedEvent, value)
            try:
                out.send_nowait(event)
            except trio.WouldBlock:
                session.delivering = True
                await out.send(event)
                session.delivering = False
                session.last_output = trio.current_time()
        if media:
            session.last_output = trio.current_time()


class _Spawned:
    """Starts the worker and, on the way out, always stops and reaps it."""

    def __init__(self, owner: TranscodeWorker, command: list[str], env: dict[str, str]) -> None:
        self._owner = owner
        self._command = command
        self._env = env
        self._process: trio.Process | None = None

    async def __aenter__(self) -> trio.Process:
        self._process = await trio.lowlevel.open_process(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self._env
        )
        self._owner._process = self._process
        return self._process

    async def __aexit__(self, *exc_info: object) -> None:
        process = self._process
        assert process is not None
        with trio.CancelScope(shield=True):
            await _stop(process)
        self._owner._process = None


async def _stop(process: trio.Process) -> None:
    """Close its pipes, let it finish exiting, then signal; always reap it."""
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            await pipe.aclose()
    # Stdin closed: a healthy worker drains and exits by itself, quickly.
    for signal_it in (None, process.terminate):
        if signal_it is not None:
            signal_it()
        with trio.move_on_after(STOP_GRACE):
            await process.wait()
        if process.returncode is not None:
            return
    process.kill()
    await process.wait()
