"""The few blocking filesystem calls of the packager (those that may take long run in
worker threads).

Writes are atomic (a hidden temporary name, then rename) so that a reader that finds a
name finds the whole file; the HTTP layer serves whatever exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> int:
    """Write `data` to `path` atomically; returns the bytes added to the disk."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        previous = path.stat().st_size
    except FileNotFoundError:
        previous = 0
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return len(data) - previous


def remove_all(paths: Iterable[Path]) -> int:
    """Delete these files if present; returns the bytes freed."""
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed
