"""Routes for whoever runs the control plane: health, metrics, the event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import get
from litestar.response import Response, ServerSentEvent, ServerSentEventMessage
from litestar.types import ControllerRouterHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_plane import auth
from control_plane.events import Event
from control_plane.services import ServicesDep

KEEPALIVE_SECONDS = 15.0


@get("/healthz", tags=["ops"])
async def healthz(services: ServicesDep) -> dict[str, Any]:
    services.db.execute("SELECT 1").fetchone()
    return {"status": "ok", "nodes": len(services.fleet.statuses())}


@get("/metrics", tags=["ops"], media_type=CONTENT_TYPE_LATEST)
async def metrics(services: ServicesDep) -> Response[bytes]:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _message(event: Event) -> ServerSentEventMessage:
    payload = {"kind": event.kind, "at": event.at, **event.data}
    return ServerSentEventMessage(data=json.dumps(payload), event=event.kind, id=event.id)


async def _event_stream(services: ServicesDep) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, comment="glasscast events")
    async with services.events.subscribe() as queue:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if event is None:
                return  # fell too far behind; the client reconnects
            yield _message(event)


@get("/api/v1/events", guards=[auth.admin_guard], tags=["ops"])
async def events(services: ServicesDep) -> ServerSentEvent:
    """Server-Sent Events of fleet and stream changes, JSON in each `data:`."""
    return ServerSentEvent(_event_stream(services))


def build(services: ServicesDep) -> list[ControllerRouterHandler]:
    return [healthz, metrics, events]
