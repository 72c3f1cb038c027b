"""The first schema: nodes, enrollment tokens, channels, streams."""

from __future__ import annotations

import sqlite_utils


def apply(db: sqlite_utils.Database) -> None:
    db.table("enrollment_tokens").create(
        {
            "id": str,  # public id shown to operators
            "token_hash": str,  # sha256 of the secret; the secret is shown once
            "node_name": str,  # optional: the token is only good for this name
            "created_at": float,
            "expires_at": float,
            "used_at": float,
            "used_by": str,
            "manual_approval": int,
        },
        pk="id",
        not_null={"token_hash", "created_at", "expires_at"},
    )
    db.table("enrollment_tokens").create_index(["token_hash"], unique=True)

    db.table("nodes").create(
        {
            "name": str,
            "status": str,  # pending, healthy, unhealthy, draining, revoked
            "approved": int,  # 0 while manual approval is outstanding
            "draining": int,
            "roles": str,  # JSON list
            "region": str,
            "prefixes": str,  # JSON list of CIDRs
            "latitude": float,
            "longitude": float,
            "http_url": str,
            "rtmp_url": str,
            "cert_serial": str,  # hex serial of the current node certificate
            "cert_fingerprint": str,  # sha256 of the DER certificate
            "enrolled_at": float,
            "last_report_at": float,
            "turnup": str,  # JSON: check name -> {"ok": bool, "detail": str}
            "capacity": str,  # JSON
            "load": str,  # JSON: last reported load
            "encoders": str,  # JSON list
        },
        pk="name",
        not_null={"status", "enrolled_at"},
        defaults={"approved": 1, "draining": 0, "roles": "[]", "prefixes": "[]"},
    )

    db.table("channels").create(
        {
            "name": str,
            "title": str,
            "category": str,
            "stream_key_hash": str,  # sha256 of the key; the key is shown once
            "stream_key_prefix": str,  # first characters, to tell keys apart in the UI
            "created_at": float,
            "key_rotated_at": float,
            "dvr_window_seconds": int,  # per-channel override, NULL = node default
        },
        pk="name",
        not_null={"stream_key_hash", "created_at"},
        defaults={"title": "", "category": ""},
    )
    db.table("channels").create_index(["stream_key_hash"], unique=True)

    db.table("streams").create(
        {
            "id": str,
            "channel": str,
            "status": str,  # live, reconnecting, ended
            "origin_node": str,
            "started_at": float,
            "disconnected_at": float,
            "ended_at": float,
            "peak_viewers": int,
            "discontinuities": int,
        },
        pk="id",
        foreign_keys=[("channel", "channels", "name")],
        not_null={"channel", "status", "started_at"},
        defaults={"peak_viewers": 0, "discontinuities": 0},
    )
    db.table("streams").create_index(["channel", "status"])
