"""ICE host candidates on `webrtc.public_ip`, from `webrtc.udp_port_min..max`.

aioice gathers a candidate on every interface address with an ephemeral port; a node
behind a firewall needs one address broadcasters can reach and a port range it can
open. aioice has no setting for either, so the worker process (and only it) replaces
its host-candidate gathering with this one. Where `public_ip` is not a local address
(1:1 NAT, a cloud VM's public IP), the socket binds the wildcard and the candidate
still names `public_ip`. STUN/TURN are not used: a publishing node needs neither.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
from collections.abc import Iterator
from typing import Any

import aioice.ice
from aioice.candidate import Candidate, candidate_foundation, candidate_priority


class PortRange:
    """Hands out ports round-robin so a just-closed session's port is reused last."""

    def __init__(self, low: int, high: int) -> None:
        self._ports: Iterator[int] = itertools.cycle(range(low, high + 1))
        self._size = high - low + 1

    def bind(self, address: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for _ in range(self._size):
            port = next(self._ports)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                try:
                    sock.bind((address, port))
                except OSError as exc:
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise
                    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock
        raise OSError(errno.EADDRINUSE, "no free UDP port in webrtc.udp_port_min..max")


def install(public_ip: str, ports: PortRange) -> None:
    """Make every aioice Connection in this process gather one host candidate."""

    async def get_component_candidates(
        self: aioice.ice.Connection,
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 (aioice signature)
    ) -> list[Candidate]:
        loop = asyncio.get_running_loop()
        sock = ports.bind(public_ip)
        transport: Any
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: aioice.ice.StunProtocol(self), sock=sock
        )
        port = transport.get_extra_info("sockname")[1]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", public_ip),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=public_ip,
            port=port,
            type="host",
        )
        self._protocols.append(protocol)
        return [protocol.local_candidate]

    aioice.ice.Connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
