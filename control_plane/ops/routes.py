"""Routes for whoever runs the control plane: health, metrics, the event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import sqlite_utils
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response, ServerSentEvent, ServerSentEventMessage
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from control_plane import auth
from control_plane.events import Event, EventBus
from control_plane.fleet.service import FleetService
from control_plane.ops.schemas import HealthOut

KEEPALIVE_SECONDS = 15.0

# What these routes are given (ops/providers.py provides them by these names).
DatabaseDep = NamedDependency[sqlite_utils.Database]
FleetDep = NamedDependency[FleetService]
RegistryDep = NamedDependency[CollectorRegistry]
EventBusDep = NamedDependency[EventBus]


@get("/healthz", tags=["ops"])
async def healthz(db: DatabaseDep, fleet: FleetDep) -> HealthOut:
    db.execute("SELECT 1").fetchone()
    return HealthOut(status="ok", nodes=len(fleet.statuses()))


@get("/metrics", tags=["ops"], media_type=CONTENT_TYPE_LATEST)
async def metrics(registry: RegistryDep) -> Response[bytes]:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _message(event: Event) -> ServerSentEventMessage:
    payload = {"kind": event.kind, "at": event.at, **event.data}
    return ServerSentEventMessage(data=json.dumps(payload), event=event.kind, id=event.id)


async def _event_stream(bus: EventBus) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, comment="glasscast events")
    async with bus.subscribe() as queue:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if event is None:
                return  # fell too far behind; the client reconnects
            yield _message(event)


@get(
    "/api/v1/events",
    guards=[auth.admin_guard],
    tags=["ops"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type="text/event-stream",
            description=(
                "Server-Sent Events, each `event: KIND`, `id: N` and a JSON `data:` of"
                ' {"kind", "at", ...what changed} (node.enrolled, node.status, node.report,'
                " channel.created, stream.status); comment lines keep it alive"
            ),
        )
    },
)
async def events(bus: EventBusDep) -> ServerSentEvent:
    """Server-Sent Events of fleet and stream changes, JSON in each `data:`."""
    return ServerSentEvent(_event_stream(bus))
