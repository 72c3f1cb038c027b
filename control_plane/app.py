"""The one place that wires the control plane: Litestar routes, the fleet's
`grpc.aio` server, storage and background upkeep, all in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, cast

import uvicorn
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import PluginProtocol
from litestar.types import (
    ASGIApp,
    ControllerRouterHandler,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)

from control_plane import monitor, ops, wiring
from control_plane.bodies import bounded_bodies
from control_plane.clients import TrustedProxies
from control_plane.errors import DomainError, TooManyRequests
from control_plane.fleet import grpc_server
from control_plane.fleet import routes as fleet_routes
from control_plane.listener import protocols
from control_plane.services import Services, build_services
from control_plane.streams import routes as stream_routes
from control_plane.vods import routes as vod_routes
from shared.admission import ConnectionCaps
from shared.config import CONTROL_PLANE_CONFIG_PATH, ControlPlaneConfig, load, resolve_path
from shared.logs import setup_logging

log = logging.getLogger("glasscast.control_plane")

RouteBuilder = Callable[[Services], Sequence[ControllerRouterHandler]]

DomainBuilder = Callable[
    [Services], tuple[Sequence[ControllerRouterHandler], Sequence[PluginProtocol]]
]

# Every domain contributes its routes here; domains that need app plugins (chat's
# channels plugin and room pumps) go in the second list.
DOMAIN_ROUTES: list[RouteBuilder] = [
    stream_routes.build,
    fleet_routes.build,
    ops.build,
    wiring.web_domain,
    vod_routes.build,
]
DOMAIN_PLUGINS: list[DomainBuilder] = [
    wiring.chat_domain,
]


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(
        {"status_code": exc.status_code, "detail": exc.detail},
        status_code=exc.status_code,
        headers=headers,
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def _count_requests(services: Services) -> Callable[[ASGIApp], ASGIApp]:
    def middleware(app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            method = cast("HTTPScope", scope)["method"]

            async def send_counted(message: Message) -> None:
                if message["type"] == "http.response.start":
                    services.metrics.api_requests.labels(
                        method=method, status=str(message["status"])
                    ).inc()
                await send(message)

            await app(scope, receive, send_counted)

        return counted

    return middleware


def create_app(
    config: ControlPlaneConfig,
    *,
    services: Services | None = None,
    extra_routes: Sequence[RouteBuilder] = (),
) -> Litestar:
    """The HTTP app. Without `services` it builds (and on shutdown closes) its own;
    `serve` passes the ones it shares with the gRPC server."""
    owned = services is None
    if services is None:
        services, _ = build_services(config)
    handlers: list[ControllerRouterHandler] = []
    for build in [*DOMAIN_ROUTES, *extra_routes]:
        handlers.extend(build(services))
    plugins: list[PluginProtocol] = []
    for build_with_plugins in DOMAIN_PLUGINS:
        more_handlers, more_plugins = build_with_plugins(services)
        handlers.extend(more_handlers)
        plugins.extend(more_plugins)
    app = Litestar(
        route_handlers=handlers,
        plugins=plugins,
        dependencies={"services": Provide(lambda: services, sync_to_thread=False, use_cache=True)},
        exception_handlers={DomainError: _domain_error, HTTPException: _http_error},
        middleware=[
            _count_requests(services),
            bounded_bodies(config.http.max_body_bytes, config.http.max_json_depth),
        ],
        request_max_body_size=config.http.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Glasscast control plane",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(), JsonRenderPlugin()],
        ),
        on_shutdown=[services.close] if owned else [],
        # Logging is set up once per process (shared.logs), not by the framework.
        logging_config=None,
        debug=False,
    )
    app.state.services = services
    return app


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
