from __future__ import annotations

from control_plane.fleet.status import NodeFacts, node_status

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
