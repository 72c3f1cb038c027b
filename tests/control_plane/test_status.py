from __future__ import annotations

from litestar.testing import TestClient

from control_plane.fleet.status import NodeFacts, node_status, reported_facts
from control_plane.services import Services
from shared.fleet import fleet_pb2
from shared.fleet.checks import CACHE_SPACE
from tests.control_plane.helpers import enroll, report

WINDOW = 6.0


def facts(**overrides: object) -> NodeFacts:
    values: dict[str, object] = {
        "revoked": False,
        "draining": False,
        "approved": True,
        "turnup_ok": True,
        "last_report_at": 100.0,
    }
    values.update(overrides)
    return NodeFacts(**values)  # type: ignore[arg-type]


def test_healthy_when_reporting_with_turnup_passed() -> None:
    assert node_status(facts(), now=101.0, unhealthy_after=WINDOW) == "healthy"


def test_pending_until_first_report_turnup_and_approval() -> None:
    assert node_status(facts(last_report_at=None), now=101, unhealthy_after=WINDOW) == "pending"
    assert node_status(facts(turnup_ok=False), now=101, unhealthy_after=WINDOW) == "pending"
    assert node_status(facts(approved=False), now=101, unhealthy_after=WINDOW) == "pending"


def test_unhealthy_after_the_window_and_back_when_reporting_again() -> None:
    assert node_status(facts(), now=106.1, unhealthy_after=WINDOW) == "unhealthy"
    assert node_status(facts(last_report_at=106.0), now=106.1, unhealthy_after=WINDOW) == "healthy"


def test_revoked_wins_and_draining_shows() -> None:
    assert node_status(facts(revoked=True), now=101, unhealthy_after=WINDOW) == "revoked"
    assert node_status(facts(draining=True), now=101, unhealthy_after=WINDOW) == "draining"
    assert node_status(facts(draining=True), now=200, unhealthy_after=WINDOW) == "unhealthy"


def test_degraded_serves_until_silence_drain_or_a_real_failure() -> None:
    assert node_status(facts(degraded=True), now=101, unhealthy_after=WINDOW) == "degraded"
    degraded_draining = facts(degraded=True, draining=True)
    assert node_status(degraded_draining, now=101, unhealthy_after=WINDOW) == "draining"
    assert node_status(facts(degraded=True), now=200, unhealthy_after=WINDOW) == "unhealthy"


def test_only_a_failed_cache_space_check_degrades() -> None:
    full: dict[str, dict[str, object]] = {CACHE_SPACE: {"ok": False}, "cache_dir": {"ok": True}}
    degraded = reported_facts(full, draining=False, approved=True, last_report_at=1.0)
    assert (degraded.turnup_ok, degraded.degraded) == (True, True)
    broken = {**full, "http_port": {"ok": False}}
    pending = reported_facts(broken, draining=False, approved=True, last_report_at=1.0)
    assert pending.turnup_ok is False
    assert node_status(pending, now=1.0, unhealthy_after=WINDOW) == "pending"


def test_a_node_with_a_full_cache_is_degraded_and_still_gets_viewers(
    services: Services,
    client: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    enroll(client, admin, "n1")
    full = report(1)
    full.turnup.append(
        fleet_pb2.TurnupCheck(name=CACHE_SPACE, ok=False, detail="cache disk full: 166 objects")
    )
    assert services.fleet.handle_report("n1", full) == "degraded"
    services.fleet.refresh_statuses()
    assert services.fleet.statuses() == {"n1": "degraded"}
    edge = services.catalog.routing().choose_edge("127.1.2.3", "demo", services.fleet.loads, 0.8)
    assert edge is not None and edge.name == "n1"
    # Space again: healthy, and still routed.
    assert services.fleet.handle_report("n1", report(2)) == "healthy"
