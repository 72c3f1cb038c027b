"""The one place that wires the control plane: Litestar routes, the fleet's
`grpc.aio` server, storage and background upkeep, all in one asyncio loop.

The HTTP API is its domains (`DOMAINS`), each contributing a `Domain` the same way:
route handlers, the dependencies they are given, app plugins. `assemble` mounts them
and maps every `DomainError` to a response, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import uvicorn
from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.types import (
    ASGIApp,
    HTTPScope,
    LifespanHook,
    Message,
    Middleware,
    Receive,
    Scope,
    Send,
)

from control_plane import auth, monitor
from control_plane.bodies import bounded_bodies
from control_plane.chat import providers as chat
from control_plane.clients import TrustedProxies
from control_plane.domain import Domain
from control_plane.errors import DomainError, TooManyRequests
from control_plane.fleet import grpc_server
from control_plane.fleet import providers as fleet
from control_plane.listener import protocols
from control_plane.metrics import Metrics
from control_plane.ops import providers as ops
from control_plane.services import Services, build_services
from control_plane.streams import providers as streams
from control_plane.vods import providers as vods
from control_plane.web import providers as web
from shared.admission import ConnectionCaps
from shared.config import CONTROL_PLANE_CONFIG_PATH, ControlPlaneConfig, load, resolve_path
from shared.logs import setup_logging

log = logging.getLogger(__name__)

# Every domain of the HTTP API, in the order its routes and plugins are registered.
DOMAINS: tuple[Callable[[Services], Domain], ...] = (
    streams.domain,
    fleet.domain,
    ops.domain,
    web.domain,
    vods.domain,
    chat.domain,
)

# Litestar's own limit, for apps assembled without a config (tests of one domain).
DEFAULT_MAX_BODY = 10_000_000


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.code is not None:
        # Where Litestar puts the details of its own errors, so clients read one shape.
        body["extra"] = {"code": exc.code}
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body, status_code=exc.status_code, headers=headers)


def _count_requests(metrics: Metrics) -> Callable[[ASGIApp], ASGIApp]:
    def middleware(app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            method = cast("HTTPScope", scope)["method"]

            async def send_counted(message: Message) -> None:
                if message["type"] == "http.response.start":
                    metrics.api_requests.labels(method=method, status=str(message["status"])).inc()
                await send(message)

            await app(scope, receive, send_counted)

        return counted

    return middleware


def assemble(
    domains: Sequence[Domain],
    *,
    middleware: Sequence[Middleware] = (),
    state: Mapping[str, Any] | None = None,
    on_shutdown: Sequence[LifespanHook] = (),
    request_max_body_size: int = DEFAULT_MAX_BODY,
    debug: bool = False,
) -> Litestar:
    """An app of these domains: each on a router of its own with its dependencies,
    their plugins in order. Tests assemble one domain over fakes the same way."""
    return Litestar(
        route_handlers=[
            Router(path="/", route_handlers=d.route_handlers, dependencies=d.dependencies)
            for d in domains
        ],
        plugins=[plugin for d in domains for plugin in d.plugins],
        # Litestar's own errors (validation, unknown routes, 401 from guards) keep its
        # rendering, the same shape: {"status_code", "detail", "extra"?}.
        exception_handlers={DomainError: _domain_error},
        middleware=middleware,
        request_max_body_size=request_max_body_size,
        state=State(state or {}),
        openapi_config=OpenAPIConfig(
            title="Glasscast control plane",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(), JsonRenderPlugin()],
        ),
        on_shutdown=on_shutdown,
        # Logging is set up once per process (shared.logs), not by the framework.
        logging_config=None,
        debug=debug,
    )


def create_app(config: ControlPlaneConfig, *, services: Services | None = None) -> Litestar:
    """The HTTP app. Without `services` it builds (and on shutdown closes) its own;
    `serve` passes the ones it shares with the gRPC server."""
    owned = services is None
    if services is None:
        services, _ = build_services(config)
    return assemble(
        [domain(services) for domain in DOMAINS],
        middleware=[
            _count_requests(services.metrics),
            bounded_bodies(config.http.max_body_bytes, config.http.max_json_depth),
        ],
        state={auth.ADMIN_TOKEN_DIGEST: services.admin_token_digest},
        on_shutdown=[services.close] if owned else [],
        request_max_body_size=config.http.max_body_bytes,
    )


class _Uvicorn(uvicorn.Server):
    """Uvicorn without its own signal handlers: the control plane's loop owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(
    services: Services,
    stop: asyncio.Event,
    ready: Callable[[int, int], None] | None = None,
) -> None:
    """Serve HTTP and gRPC until `stop` is set; `ready(http_port, grpc_port)` once both listen."""
    config = services.config
    server, grpc_port = grpc_server.build_server(
        services.servicer(),
        services.ca,
        config.grpc.tls_names,
        f"{config.grpc.host}:{config.grpc.port}",
    )
    http_protocol, ws_protocol = protocols(config.http, _admission(config))
    http = _Uvicorn(
        uvicorn.Config(
            create_app(config, services=services),
            host=config.http.host,
            port=config.http.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http=http_protocol,
            ws=ws_protocol,
            timeout_keep_alive=int(config.http.idle_timeout),
            # Chat frames are small; a big frame is refused by uvicorn before it is
            # buffered. Per-message deflate would compress each batched chat frame once
            # per client, undoing what batching saves.
            ws_max_size=64 * 1024,
            ws_per_message_deflate=False,
        )
    )
    await server.start()
    upkeep = asyncio.create_task(monitor.run_monitor(services), name="fleet-monitor")
    web = asyncio.create_task(http.serve(), name="http")
    try:
        while not http.started:
            if web.done():
                await web  # surfaces a bind error
                raise RuntimeError("HTTP server stopped before it started")
            await asyncio.sleep(0.02)
        http_port = config.http.port or _bound_port(http)
        if ready is not None:
            ready(http_port, grpc_port)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped, web}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
    finally:
        http.should_exit = True
        await server.stop(grace=2.0)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(web, 5.0)
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep


def _admission(config: ControlPlaneConfig) -> ConnectionCaps:
    proxies = TrustedProxies.parse(config.http.trusted_proxies)
    return ConnectionCaps(
        config.http.max_connections,
        config.http.max_connections_per_ip,
        exempt=proxies.__contains__,
    )


def _bound_port(http: uvicorn.Server) -> int:
    for server in http.servers:
        for sock in server.sockets:
            return int(sock.getsockname()[1])
    return 0


def run(config_path: Path | None) -> int:
    config = load(ControlPlaneConfig, resolve_path(config_path, CONTROL_PLANE_CONFIG_PATH))
    setup_logging(config.logging.level, config.logging.json, name="control-plane")
    services, _ = build_services(config)

    def ready(http_port: int, grpc_port: int) -> None:
        log.info(
            "control plane ready: http %s:%d, grpc %s:%d, admin token in %s",
            config.http.host,
            http_port,
            config.grpc.host,
            grpc_port,
            config.state_dir / "admin-token",
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(services, stop, ready)

    try:
        asyncio.run(main())
    finally:
        services.close()
    return 0
