"""The `enrollment_tokens` table: one-time, expiring tokens, stored as hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True, slots=True)
class EnrollmentToken:
    id: str
    node_name: str | None
    created_at: float
    expires_at: float
    used_at: float | None
    used_by: str | None
    manual_approval: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EnrollmentToken:
        return cls(
            id=row["id"],
            node_name=row["node_name"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
            used_by=row["used_by"],
            manual_approval=bool(row["manual_approval"]),
        )


def insert(
    db: sqlite_utils.Database,
    *,
    token_id: str,
    token_hash: str,
    node_name: str | None,
    now: float,
    expires_at: float,
    manual_approval: bool,
) -> EnrollmentToken:
    row = {
        "id": token_id,
        "token_hash": token_hash,
        "node_name": node_name,
        "created_at": now,
        "expires_at": expires_at,
        "used_at": None,
        "used_by": None,
        "manual_approval": int(manual_approval),
    }
    db["enrollment_tokens"].insert(row)  # type: ignore[union-attr]
    return EnrollmentToken.from_row(row)


def by_hash(db: sqlite_utils.Database, token_hash: str) -> EnrollmentToken | None:
    rows = list(db["enrollment_tokens"].rows_where("token_hash = ?", [token_hash], limit=1))
    return EnrollmentToken.from_row(rows[0]) if rows else None


def all_tokens(db: sqlite_utils.Database) -> list[EnrollmentToken]:
    rows = db["enrollment_tokens"].rows_where(order_by="created_at desc")
    return [EnrollmentToken.from_row(r) for r in rows]


def mark_used(db: sqlite_utils.Database, token_id: str, *, node_name: str, now: float) -> bool:
    """Claim the token; False when someone else claimed it first."""
    cursor = db.execute(
        "UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
        [now, node_name, token_id],
    )
    return cursor.rowcount == 1
