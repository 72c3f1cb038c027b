"""`glasscast edge`: the trio nursery that starts every part of a node.

    fleet session ----- reports every 2 s, commands back (drain, upstreams, end stream)
    rtmp server ------- (ingest role) -> origin streams: transcode worker -> packager
    http server ------- delivery app: local packager, segment cache, upstream pulls

SIGINT/SIGTERM cancel the nursery: the servers stop accepting, the origin streams
end their workers, the session call is cancelled, and the process exits 0.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
from pathlib import Path

import trio

from edge_node.fleet.state import NodeIdentity, NotEnrolled
from edge_node.node import Node
from edge_node.transcode.encoders import EncoderUnavailable
from shared.config import EDGE_CONFIG_PATH, EdgeConfig, load, resolve_path
from shared.logs import setup_logging

log = logging.getLogger(__name__)


def _identity(config: EdgeConfig) -> NodeIdentity:
    identity = NodeIdentity.load(config.state_dir)
    link = config.control_plane
    if link.url or link.grpc:
        # The config wins over what enrollment recorded: the control plane moved.
        enrollment = dataclasses.replace(
            identity.enrollment,
            control_plane_url=link.url or identity.enrollment.control_plane_url,
            grpc_address=link.grpc or identity.enrollment.grpc_address,
        )
        identity = dataclasses.replace(identity, enrollment=enrollment)
    return identity


async def _stop_on_signals(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("%s received, stopping", signal.Signals(signum).name)
            scope.cancel()
            return


async def _main(node: Node) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, nursery.cancel_scope)
        await node.serve()
        nursery.cancel_scope.cancel()


def run(config_path: Path | None) -> int:
    config = load(EdgeConfig, resolve_path(config_path, EDGE_CONFIG_PATH))
    setup_logging(config.logging.level, config.logging.json, name=config.node.name)
    try:
        identity = _identity(config)
    except NotEnrolled as exc:
        print(f"glasscast: {exc}", file=sys.stderr)
        return 1
    try:
        node = Node(config, identity)
    except (OSError, EncoderUnavailable) as exc:
        print(f"glasscast: cannot start the node: {exc}", file=sys.stderr)
        return 1
    failed: BaseException | None = None
    try:
        trio.run(_main, node)
    except* OSError as group:
        # A port in use, a cache directory we may not create: say which, do not trace.
        failed = group.exceptions[0]
    if failed is not None:
        print(f"glasscast: the node stopped: {failed}", file=sys.stderr)
        return 1
    return 0
