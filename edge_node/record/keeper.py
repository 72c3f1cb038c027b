"""The VODs a node holds: retention sweeps, copies from other nodes, deletion on request.

Every node with a `vod/` directory runs one. The sweeper deletes a VOD once the expiry
the control plane gave it (`.expires`) has passed, and clips older than their
retention. `replicate` copies a published VOD
from another node over HTTP (signed as a node), file by file into `.building/`, and
publishes it with one rename, so a half-copied VOD is never served; then the control
plane hears that this node holds it too.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import msgspec
import trio

from edge_node.deliver.nodeauth import NodeSigner
from edge_node.package.files import write_atomic
from edge_node.record import build
from edge_node.record.build import VodInfo, VodPaths
from edge_node.record.clipper import CLIPS

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
# Clips are kept as long as VODs by default (the seeds' 60 days), counted from the cut.
CLIP_RETENTION = 60 * 86_400.0
COPY_TIMEOUT = httpx.Timeout(connect=2.0, read=30.0, write=10.0, pool=10.0)

# (info, replica) -> expiry, as `RecordingCalls.record_vod`
Reporter = Callable[[VodInfo], Awaitable[float]]


def expired(vod_root: Path, now: float) -> list[str]:
    """Ids of published VODs whose expiry has passed."""
    out = []
    for directory in vod_root.iterdir():
        if directory.name.startswith(".") or not directory.is_dir():
            continue
        expires_at = build.read_expiry(directory)
        if expires_at is not None and expires_at <= now:
            out.append(directory.name)
    return sorted(out)


def remove_old_clips(directory: Path, before: float) -> list[str]:
    """Delete clips made before `before` (Unix s); returns their file names."""
    gone = []
    for path in directory.glob("*.mp4") if directory.is_dir() else ():
        if path.stat().st_mtime < before:
            path.unlink(missing_ok=True)
            gone.append(path.name)
    return sorted(gone)


def remove_vod(vod_root: Path, vod_id: str) -> None:
    # Renamed away first, so the delivery app never serves a half-deleted VOD.
    paths = VodPaths(vod_root, vod_id)
    doomed = vod_root / build.BUILDING / f"{vod_id}.deleting"
    try:
        paths.final.rename(doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


class VodKeeper:
    def __init__(
        self,
        vod_root: Path,
        report_replica: Reporter,
        *,
        signer: NodeSigner | None = None,
        sweep_interval: float = SWEEP_INTERVAL,
        clip_retention: float = CLIP_RETENTION,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.vod_root = vod_root
        self._report = report_replica
        self._signer = signer
        self._interval = sweep_interval
        self._clip_retention = clip_retention
        self._clock = clock
        self._transport = transport
        self._copying: set[str] = set()
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(
            lambda: (self.vod_root / build.BUILDING).mkdir(parents=True, exist_ok=True)
        )
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                while True:
                    try:
                        await self.sweep()
                    except OSError:
                        log.exception("VOD sweep failed; trying again later")
                    await trio.sleep(self._interval)
            finally:
                self._nursery = None

    async def sweep(self) -> list[str]:
        now = self._clock()
        gone = await trio.to_thread.run_sync(expired, self.vod_root, now)
        for vod_id in gone:
            await trio.to_thread.run_sync(remove_vod, self.vod_root, vod_id)
            log.info("VOD %s deleted: retention over", vod_id)
        clips = await trio.to_thread.run_sync(
            remove_old_clips, self.vod_root / CLIPS, now - self._clip_retention
        )
        return gone + clips

    async def retain(self, vod_id: str, expires_at: float) -> None:
        """The control plane's retention for a VOD held here; a past time deletes it now."""
        final = VodPaths(self.vod_root, vod_id).final
        if not final.is_dir():
            return
        await trio.to_thread.run_sync(build.write_expiry, final, expires_at)
        if expires_at <= self._clock():
            await trio.to_thread.run_sync(remove_vod, self.vod_root, vod_id)
            log.info("VOD %s deleted on request", vod_id)

    def replicate_soon(self, vod_id: str, source_url: str) -> None:
        if self._nursery is not None and vod_id not in self._copying:
            self._nursery.start_soon(self._replicate_logged, vod_id, source_url)

    async def _replicate_logged(self, vod_id: str, source_url: str) -> None:
        try:
            await self.replicate(vod_id, source_url)
        except (httpx.HTTPError, OSError, ValueError, RuntimeError, msgspec.MsgspecError) as exc:
            log.warning("VOD %s not copied from %s: %r", vod_id, source_url, exc)

    async def replicate(self, vod_id: str, source_url: str) -> VodInfo | None:
        """Copy a VOD from `source_url` unless held already; returns what was copied."""
        paths = VodPaths(self.vod_root, vod_id)
        if vod_id in self._copying or paths.final.is_dir():
            return None
        self._copying.add(vod_id)
        try:
            base = f"{source_url.rstrip('/')}/vod/{vod_id}/"
            async with httpx.AsyncClient(timeout=COPY_TIMEOUT, transport=self._transport) as client:
                raw = await self._get(client, base + build.INFO)
                info = msgspec.json.decode(raw, type=VodInfo)
                if info.vod_id != vod_id:
                    raise ValueError(f"asked for {vod_id}, sent {info.vod_id}")
                listing = build.parse_listing(await self._get(client, base + build.FILES))
                await trio.to_thread.run_sync(
                    lambda: paths.building.mkdir(parents=True, exist_ok=True)
                )
                for name in [*listing, build.FILES, build.INFO]:
                    await self._copy(client, base, name, paths.building)
            await trio.to_thread.run_sync(_publish_copy, paths)
            try:
                expires_at = await self._report(info)
            except BaseException:
                # Unrecorded, it would be served but never swept: the control plane
                # asks again (or the operator does) and it is copied afresh.
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(remove_vod, self.vod_root, vod_id)
                raise
            await trio.to_thread.run_sync(build.write_expiry, paths.final, expires_at)
            log.info("VOD %s copied from %s", vod_id, source_url)
            return info
        finally:
            self._copying.discard(vod_id)

    async def _copy(self, client: httpx.AsyncClient, base: str, name: str, into: Path) -> None:
        if not build.is_vod_file(name):
            raise ValueError(f"refusing file name {name!r}")
        dest = into / name
        if await trio.to_thread.run_sync(dest.exists):
            return  # copied before a restart: VOD files never change
        data = await self._get(client, base + name)
        await trio.to_thread.run_sync(_write_file, dest, data)

    async def _get(self, client: httpx.AsyncClient, url: str) -> bytes:
        headers = {}
        if self._signer is not None:
            key, value = self._signer.header()
            headers[key] = value
        answer = await client.get(url, headers=headers)
        answer.raise_for_status()
        return answer.content


def _write_file(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest, data)


def _publish_copy(paths: VodPaths) -> None:
    if not paths.final.exists():
        paths.building.rename(paths.final)
