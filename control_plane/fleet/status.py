"""A node's status, decided from what is known about it (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.fleet.checks import DEGRADING

PENDING = "pending"
HEALTHY = "healthy"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"
DRAINING = "draining"
REVOKED = "revoked"
STATUSES = (PENDING, HEALTHY, DEGRADED, UNHEALTHY, DRAINING, REVOKED)
# The statuses clients are sent to: a degraded node still answers every request right.
SERVING = frozenset({HEALTHY, DEGRADED})


@dataclass(frozen=True, slots=True)
class NodeFacts:
    revoked: bool
    draining: bool
    approved: bool
    turnup_ok: bool
    last_report_at: float | None
    degraded: bool = False  # only checks in `DEGRADING` failed


def reported_facts(
    turnup: Mapping[str, Mapping[str, Any]],
    *,
    draining: bool,
    approved: bool,
    last_report_at: float | None,
    revoked: bool = False,
) -> NodeFacts:
    """A node's facts, from its last turn-up checks by name: a failed check in
    `DEGRADING` degrades it, any other failed check holds it pending."""
    failed = {name for name, check in turnup.items() if not check.get("ok")}
    return NodeFacts(
        revoked=revoked,
        draining=draining,
        approved=approved,
        turnup_ok=not failed - DEGRADING,
        last_report_at=last_report_at,
        degraded=bool(failed & DEGRADING),
    )


def node_status(facts: NodeFacts, *, now: float, unhealthy_after: float) -> str:
    """Revocation wins; silence beats draining (a silent node serves nobody); a node
    that has never passed turn-up or approval stays pending; one serving worse than
    it could (a full cache disk) is degraded, and still serves."""
    if facts.revoked:
        return REVOKED
    if facts.last_report_at is None:
        return PENDING
    if now - facts.last_report_at > unhealthy_after:
        return UNHEALTHY
    if not facts.turnup_ok or not facts.approved:
        return PENDING
    if facts.draining:
        return DRAINING
    return DEGRADED if facts.degraded else HEALTHY
