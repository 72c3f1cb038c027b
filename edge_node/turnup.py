"""Turn-up checks: what must hold before a node may take traffic.

The control plane keeps a node `pending` until every check here reports ok, so an
operator sees exactly which one failed (a port taken, a read-only cache disk ...);
but a node failing only `cache_space` (a full cache disk) serves every request right,
uncached, and is shown `degraded` and still sent viewers.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_node.deliver.refusals import DEGRADED_FOR, SpaceRefusals, out_of_space
from shared.fleet.checks import CACHE_SPACE


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def writable_dir(name: str, path: Path) -> Check:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".turnup-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        if out_of_space(exc):
            # Mounted writable and permitted, only full: that is `cache_space`'s to
            # report (degraded), not a reason to keep the node out of the fleet.
            return Check(name, True, f"{path} is writable, but full")
        return Check(name, False, f"{path} is not writable: {exc.strerror or exc}")
    return Check(name, True, str(path))


def cache_space(refusals: SpaceRefusals) -> Check:
    """Failed while the cache has lately refused objects for lack of disk space."""
    ago = refusals.seconds_since_last()
    if ago is None or ago >= DEGRADED_FOR:
        return Check(CACHE_SPACE, True, "cache writes have room")
    return Check(
        CACHE_SPACE,
        False,
        f"cache disk full: {refusals.total} objects served uncached, the last {ago:.0f} s ago",
    )


def port_bound(name: str, bound: str | None) -> Check:
    if bound is None:
        return Check(name, False, "not listening yet")
    return Check(name, True, f"listening on {bound}")


def flag(name: str, ok: bool, detail: str) -> Check:
    return Check(name, ok, detail)
