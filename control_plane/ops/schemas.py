"""Response bodies of the operator's endpoints."""

from __future__ import annotations

import msgspec


class HealthOut(msgspec.Struct, kw_only=True):
    status: str  # "ok": the database answers
    nodes: int  # enrolled nodes, any status
