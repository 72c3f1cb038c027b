"""The control plane's SQLite database: opening it, and its versioned migrations.

One file, WAL mode so the API's readers never wait for the fleet's writers.
Migrations are numbered modules in `migrations/` (``m0001_initial.py`` ...), each
with an ``apply(db)`` function; the schema version lives in ``PRAGMA user_version``
and every migration runs in its own transaction, so a crash mid-way leaves the
previous version intact.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import sqlite_utils

from control_plane.store import migrations as _migrations_pkg

Migration = Callable[[sqlite_utils.Database], None]


def _discover() -> list[tuple[int, Migration]]:
    found: list[tuple[int, Migration]] = []
    for info in pkgutil.iter_modules(_migrations_pkg.__path__):
        if not info.name.startswith("m") or not info.name[1:5].isdigit():
            continue
        module: ModuleType = importlib.import_module(f"{_migrations_pkg.__name__}.{info.name}")
        found.append((int(info.name[1:5]), module.apply))
    found.sort(key=lambda item: item[0])
    versions = [v for v, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


MIGRATIONS = _discover()
LATEST_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, target: int = LATEST_VERSION) -> int:
    """Bring `db` up to `target`; returns the version it ended at."""
    current = schema_version(db)
    if current > LATEST_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this release ({LATEST_VERSION})"
        )
    for version, apply in MIGRATIONS:
        if current < version <= target:
            with db.conn:
                apply(db)
                db.execute(f"PRAGMA user_version = {version}")
            current = version
    return current


def connect(path: Path | str, *, migrate_to_latest: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path`, in WAL mode, migrated."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection shared by the event loop and worker threads; callers serialise
    # writes (the control plane is a single asyncio process).
    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    if migrate_to_latest:
        migrate(db)
    return db
