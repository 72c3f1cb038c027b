"""A node's status, decided from what is known about it (pure)."""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "pending"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
DRAINING = "draining"
REVOKED = "revoked"
STATUSES = (PENDING, HEALTHY, UNHEALTHY, DRAINING, REVOKED)


@dataclass(frozen=True, slots=True)
class NodeFacts:
    revoked: bool
    draining: bool
    approved: bool
    turnup_ok: bool
    last_report_at: float | None


def node_status(facts: NodeFacts, *, now: float, unhealthy_after: float) -> str:
    """Revocation wins; silence beats draining (a silent node serves nobody); a node
    that has never passed turn-up or approval stays pending."""
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
    return HEALTHY
