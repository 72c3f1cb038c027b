"""Turn-up checks: what must hold before a node may take traffic.

The control plane keeps a node `pending` until every check here reports ok, so an
operator sees exactly which one failed (a port taken, a read-only cache disk ...).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
        return Check(name, False, f"{path} is not writable: {exc.strerror or exc}")
    return Check(name, True, str(path))


def port_bound(name: str, bound: str | None) -> Check:
    if bound is None:
        return Check(name, False, "not listening yet")
    return Check(name, True, f"listening on {bound}")


def flag(name: str, ok: bool, detail: str) -> Check:
    return Check(name, ok, detail)
