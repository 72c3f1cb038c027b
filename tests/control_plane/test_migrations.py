from __future__ import annotations

from pathlib import Path

from control_plane.store import database, nodes
from control_plane.store import streams as stream_store


def test_empty_database_migrates_to_latest(tmp_path: Path) -> None:
    db = database.connect(tmp_path / "cp.db")
    assert database.schema_version(db) == database.LATEST_VERSION == 6
    assert {"nodes", "enrollment_tokens", "channels", "streams"} <= set(db.table_names())
    assert {"chat_rooms", "chat_moderators", "chat_banned_words"} <= set(db.table_names())
    assert "vods" in db.table_names()
    assert "connection_id" in db["streams"].columns_dict
    assert "protocol" in db["streams"].columns_dict
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_version_1_with_data_migrates_to_2_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    db = database.connect(path, migrate_to_latest=False)
    assert database.migrate(db, target=1) == 1
    db.table("channels").insert(
        {"name": "demo", "stream_key_hash": "h", "created_at": 1.0, "title": "T"}
    )
    db.table("streams").insert(
        {"id": "st_1", "channel": "demo", "status": "live", "started_at": 2.0}
    )
    db.table("nodes").insert({"name": "n1", "status": "healthy", "enrolled_at": 3.0})
    db.conn.commit()
    db.close()

    db = database.connect(path, migrate_to_latest=False)
    assert database.migrate(db, target=2) == 2
    stream = db.table("streams").get("st_1")
    assert stream["status"] == "live" and stream["connection_id"] is None
    assert stream["peak_viewers"] == 0
    assert db.table("nodes").get("n1")["revoked_at"] is None
    assert db.table("channels").get("demo")["title"] == "T"
    assert database.migrate(db, target=2) == 2  # idempotent
    db.close()


def test_version_2_with_data_migrates_to_latest_adding_chat_and_vods(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    db = database.connect(path, migrate_to_latest=False)
    database.migrate(db, target=2)
    db.table("channels").insert({"name": "demo", "stream_key_hash": "h", "created_at": 1.0})
    db.conn.commit()
    db.close()
    db = database.connect(path)
    assert database.schema_version(db) == 6
    assert db.table("channels").get("demo")["stream_key_hash"] == "h"
    assert {"chat_rooms", "vods"} <= set(db.table_names())
    assert database.migrate(db) == 6
    db.close()


def test_version_4_nodes_gain_an_empty_srt_url(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    db = database.connect(path, migrate_to_latest=False)
    database.migrate(db, target=4)
    db.table("nodes").insert({"name": "n1", "status": "healthy", "enrolled_at": 3.0})
    db.conn.commit()
    db.close()
    db = database.connect(path)
    assert database.schema_version(db) == 6
    node = nodes.get(db, "n1")
    assert node is not None and node.srt_url == ""
    db.close()


def test_version_5_streams_gain_an_unknown_protocol(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    db = database.connect(path, migrate_to_latest=False)
    database.migrate(db, target=5)
    db.table("channels").insert({"name": "demo", "stream_key_hash": "h", "created_at": 1.0})
    db.table("streams").insert(
        {"id": "st_1", "channel": "demo", "status": "live", "started_at": 2.0}
    )
    db.conn.commit()
    db.close()
    db = database.connect(path)
    assert database.schema_version(db) == 6
    stream = stream_store.get(db, "st_1")
    assert stream is not None and stream.protocol == "" and stream.status == "live"
    stream_store.update(db, "st_1", {"protocol": "srt"})
    assert (stream_store.get(db, "st_1") or stream).protocol == "srt"
    db.close()
