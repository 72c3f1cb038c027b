"""Background upkeep in the control plane's loop: node health, the reconnect
grace, and reconciling streams after a restart."""

from __future__ import annotations

import asyncio
import logging

from control_plane.fleet import status as st
from control_plane.services import Services
from control_plane.store import streams as stream_store

log = logging.getLogger(__name__)


def tick(services: Services, *, reconcile: bool) -> None:
    """One round of upkeep (synchronous, so tests can drive it directly)."""
    for node in services.fleet.refresh_statuses():
        log.warning("node %s: unhealthy (silent for %.0fs)", node, services.fleet.unhealthy_after)
        services.publishing.origin_lost(node)
    if reconcile:
        services.publishing.reconcile_after_restart()
    services.publishing.sweep()
    services.catalog.upstreams.repoint()
    _update_gauges(services)


def _update_gauges(services: Services) -> None:
    counts = dict.fromkeys(st.STATUSES, 0)
    for status in services.fleet.statuses().values():
        counts[status] = counts.get(status, 0) + 1
    for status, count in counts.items():
        services.metrics.nodes.labels(status=status).set(count)
    active = stream_store.active(services.db)
    services.metrics.live_streams.set(len(active))
    services.metrics.viewers.set(sum(services.catalog.viewers.count(s.id) for s in active))


async def run_monitor(services: Services) -> None:
    """Runs until cancelled; an error in one round is logged, not fatal."""
    interval = min(1.0, services.fleet.unhealthy_after / 4)
    loop = asyncio.get_running_loop()
    reconcile_at = loop.time() + services.fleet.unhealthy_after
    reconciled = False
    while True:
        due = not reconciled and loop.time() >= reconcile_at
        try:
            tick(services, reconcile=due)
        except Exception:
            log.exception("fleet monitor round failed")
        reconciled = reconciled or due
        await asyncio.sleep(interval)
