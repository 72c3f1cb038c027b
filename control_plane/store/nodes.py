"""The `nodes` table: enrolled nodes, their certificates and what they last reported.

List-valued and nested columns are JSON text; `Node` hands them back decoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    status: str
    approved: bool
    draining: bool
    roles: tuple[str, ...]
    region: str
    prefixes: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    http_url: str
    rtmp_url: str
    cert_fingerprint: str
    enrolled_at: float
    last_report_at: float | None
    turnup: dict[str, Any]
    capacity: dict[str, Any]
    load: dict[str, Any]
    encoders: list[Any]
    srt_url: str = ""  # "srt://host:port"; empty on nodes without SRT ingest

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Node:
        return cls(
            name=row["name"],
            status=row["status"],
            approved=bool(row["approved"]),
            draining=bool(row["draining"]),
            roles=tuple(json.loads(row["roles"] or "[]")),
            region=row["region"] or "",
            prefixes=tuple(json.loads(row["prefixes"] or "[]")),
            latitude=row["latitude"],
            longitude=row["longitude"],
            http_url=row["http_url"] or "",
            rtmp_url=row["rtmp_url"] or "",
            cert_fingerprint=row["cert_fingerprint"] or "",
            enrolled_at=row["enrolled_at"],
            last_report_at=row["last_report_at"],
            turnup=json.loads(row["turnup"] or "{}"),
            capacity=json.loads(row["capacity"] or "{}"),
            load=json.loads(row["load"] or "{}"),
            encoders=json.loads(row["encoders"] or "[]"),
            srt_url=row.get("srt_url") or "",
        )


def get(db: sqlite_utils.Database, name: str) -> Node | None:
    try:
        return Node.from_row(db["nodes"].get(name))  # type: ignore[union-attr]
    except NotFoundError:
        return None


def all_nodes(db: sqlite_utils.Database) -> list[Node]:
    return [Node.from_row(r) for r in db["nodes"].rows_where(order_by="name")]


def provision(
    db: sqlite_utils.Database,
    *,
    name: str,
    roles: list[str],
    region: str,
    prefixes: list[str],
    cert_serial: str,
    cert_fingerprint: str,
    approved: bool,
    now: float,
) -> None:
    """Create the node, or re-provision it (a new certificate, back to `pending`)."""
    db["nodes"].upsert(  # type: ignore[union-attr]
        {
            "name": name,
            "status": "pending",
            "approved": int(approved),
            "draining": 0,
            "roles": json.dumps(roles),
            "region": region,
            "prefixes": json.dumps(prefixes),
            "cert_serial": cert_serial,
            "cert_fingerprint": cert_fingerprint,
            "enrolled_at": now,
            "last_report_at": None,
            "turnup": "{}",
            "revoked_at": None,
        },
        pk="name",
    )


def update(db: sqlite_utils.Database, name: str, values: Mapping[str, Any]) -> None:
    encoded = {
        key: json.dumps(value) if isinstance(value, list | tuple | dict) else value
        for key, value in values.items()
    }
    db["nodes"].update(name, encoded)  # type: ignore[union-attr]
