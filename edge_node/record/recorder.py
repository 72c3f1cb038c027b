"""The recorder: turns an ended stream into a VOD, once, surviving crashes. Thin trio shell.

The origin calls `stream_ended` when a stream's pipeline has finished (after the
reconnect grace). The recorder snapshots the packager's playlists, then runs the
journal's steps in a worker thread, writing the journal after each (see
`edge_node.record.journal` and `.build`). At start, `run` finishes every VOD a
previous process left half-made, and reports again those the control plane has not
acknowledged. A VOD is named by its stream id, so there is one VOD per stream
whichever process made it.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import trio

from edge_node.package.registry import LiveStreams
from edge_node.record import build
from edge_node.record.build import VodInfo, VodPaths
from edge_node.record.journal import Journal, Step
from edge_node.record.keeper import remove_vod
from edge_node.record.manifest import snapshot

log = logging.getLogger(__name__)

# (info) -> the VOD's expiry (Unix seconds); raises `VodRefused`, or anything else
# when the control plane is away.
Reporter = Callable[[VodInfo], Awaitable[float]]


class VodRefused(RuntimeError):
    """The control plane will not record this VOD: the stream moved to another origin
    (a takeover), whose VOD is the broadcast's; this one is a fragment."""


# Called before each step: tests inject crashes here.
StepHook = Callable[[str, Step], None]

PACKAGER_WAIT = 30.0
REPORT_RETRY_MIN = 1.0
REPORT_RETRY_MAX = 30.0


class Recorder:
    def __init__(
        self,
        vod_root: Path,
        live: LiveStreams,
        live_root: Path,
        report: Reporter,
        *,
        clock: Callable[[], float] = time.time,
        before_step: StepHook | None = None,
    ) -> None:
        self.vod_root = vod_root
        self._live = live
        self._live_root = live_root  # <media_root>/live: the packager's stream directories
        self._report = report
        self._clock = clock
        self._before_step = before_step
        self._busy: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self.made: dict[str, VodInfo] = {}  # VODs this process published, by id
        self._made_changed = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(
            lambda: (self.vod_root / build.BUILDING).mkdir(parents=True, exist_ok=True)
        )
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                for vod_id in await trio.to_thread.run_sync(self._unfinished):
                    nursery.start_soon(self._resume_logged, vod_id)
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def stream_ended(self, stream_id: str, channel: str, packaged: trio.Event) -> None:
        """Make the stream's VOD in the background once its packager has finished
        (a no-op if it is made already). The origin's `on_ended` hook."""
        if self._nursery is not None:
            self._nursery.start_soon(self._record_after, stream_id, channel, packaged)

    async def _record_after(self, stream_id: str, channel: str, packaged: trio.Event) -> None:
        with trio.move_on_after(PACKAGER_WAIT):
            await packaged.wait()
        try:
            await self.record(stream_id, channel)
        except (OSError, ValueError, RuntimeError, av.FFmpegError):
            # A VOD that cannot be made must not take the node down; its journal stays
            # for the next start to try again.
            log.exception("%s: VOD not made", stream_id)

    async def record(self, stream_id: str, channel: str) -> VodInfo | None:
        if stream_id in self._busy:
            return None
        self._busy.add(stream_id)
        try:
            paths = VodPaths(self.vod_root, stream_id)
            journal = await trio.to_thread.run_sync(paths.read_journal)
            if journal is None:
                manifest = snapshot(self._live, stream_id, channel, self._clock())
                if manifest is None:
                    log.info("%s: nothing recorded, no VOD", stream_id)
                    return None
                self._hook(stream_id, Step.SNAPSHOT)
                await trio.to_thread.run_sync(build.write_snapshot, paths, manifest)
                journal = Journal(stream_id).advance(Step.SNAPSHOT)
                await trio.to_thread.run_sync(paths.write_journal, journal)
            return await self._finish(paths, journal)
        finally:
            self._busy.discard(stream_id)

    async def _resume_logged(self, vod_id: str) -> None:
        try:
            await self._resume(vod_id)
        except (OSError, ValueError, RuntimeError, av.FFmpegError):
            # Its media went with the crash (a lost disk, a cleaned state directory):
            # the journal stays, and the next start tries again.
            log.exception("%s: half-made VOD not finished", vod_id)

    async def _resume(self, vod_id: str) -> None:
        if vod_id in self._busy:
            return
        self._busy.add(vod_id)
        try:
            paths = VodPaths(self.vod_root, vod_id)
            journal = await trio.to_thread.run_sync(paths.recover_journal)
            if journal is None:
                # Died before the snapshot: the packager's memory went with it.
                log.warning("%s: VOD abandoned before its snapshot; removing it", vod_id)
                await trio.to_thread.run_sync(shutil.rmtree, paths.building, True)
                return
            log.info("%s: finishing a VOD left before %s", vod_id, journal.next_step)
            await self._finish(paths, journal)
        finally:
            self._busy.discard(vod_id)

    async def _finish(self, paths: VodPaths, journal: Journal) -> VodInfo | None:
        vod_id = paths.vod_id
        started = trio.current_time()
        while (step := journal.next_step) not in (None, Step.REPORT):
            self._hook(vod_id, step)
            await trio.to_thread.run_sync(build.run_step, step, paths, self._live_root / vod_id)
            journal = journal.advance(step)
            await trio.to_thread.run_sync(paths.write_journal, journal)
        info = await trio.to_thread.run_sync(build.read_info, paths.final)
        if info is None:
            raise RuntimeError(f"{vod_id}: published without vod.json")
        if journal.next_step is Step.REPORT:
            log.info(
                "%s: VOD made in %.2f s (%.1f s of media)",
                vod_id,
                trio.current_time() - started,
                info.duration,
            )
            self._hook(vod_id, Step.REPORT)
            if not await self._report_until_done(info):
                await trio.to_thread.run_sync(remove_vod, self.vod_root, vod_id)
                return None
            journal = journal.advance(Step.REPORT)
            await trio.to_thread.run_sync(paths.write_journal, journal)
        self.made[vod_id] = info
        self._made_changed.set()
        self._made_changed = trio.Event()
        return info

    async def wait_made(self, vod_id: str) -> VodInfo:
        """Return once this process has finished `vod_id` (made or resumed)."""
        while vod_id not in self.made:
            await self._made_changed.wait()
        return self.made[vod_id]

    async def _report_until_done(self, info: VodInfo) -> bool:
        """True once recorded, False if refused; retries while the control plane is away."""
        delay = REPORT_RETRY_MIN
        while True:
            try:
                expires_at = await self._report(info)
            except VodRefused as exc:
                log.warning("%s: VOD refused, deleting it: %s", info.vod_id, exc)
                return False
            except Exception as exc:  # the control plane is away: it hears of it later
                log.warning("%s: VOD not recorded yet (%s); retrying", info.vod_id, exc)
                await trio.sleep(delay)
                delay = min(delay * 2, REPORT_RETRY_MAX)
                continue
            await trio.to_thread.run_sync(
                build.write_expiry, VodPaths(self.vod_root, info.vod_id).final, expires_at
            )
            return True

    def _hook(self, vod_id: str, step: Step) -> None:
        if self._before_step is not None:
            self._before_step(vod_id, step)

    def _unfinished(self) -> list[str]:
        """Ids of VODs under construction or published but not yet reported."""
        found = [p.name for p in (self.vod_root / build.BUILDING).iterdir() if p.is_dir()]
        for directory in self.vod_root.iterdir():
            if directory.name.startswith(".") or not directory.is_dir():
                continue
            journal = VodPaths(self.vod_root, directory.name).read_journal()
            if journal is not None and not journal.complete:
                found.append(directory.name)
        return sorted(set(found))
