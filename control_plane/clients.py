"""Who is calling: the client address behind trusted reverse proxies, and a
per-address rate limit with bounded memory."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Sequence

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> list[IpNetwork]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def is_trusted(address: str, proxies: Sequence[IpNetwork]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed.version == n.version and parsed in n for n in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Sequence[IpNetwork]) -> str:
    """The first address, walking X-Forwarded-For from the right, not a trusted proxy."""
    if not forwarded_for or not is_trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


class TrustedProxies:
    """The reverse proxies whose X-Forwarded-For is believed (parsed once).

    A plain class, not a dataclass: Litestar validates dataclass dependencies
    field by field, and msgspec cannot convert a union of network types."""

    __slots__ = ("networks",)

    def __init__(self, networks: tuple[IpNetwork, ...]) -> None:
        self.networks = networks

    @classmethod
    def parse(cls, cidrs: Sequence[str]) -> TrustedProxies:
        return cls(tuple(parse_networks(cidrs)))

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        return client_address(peer, forwarded_for, self.networks)

    def __contains__(self, address: str) -> bool:
        return is_trusted(address, self.networks)


class RateLimiter:
    """A fixed window per key; the least recently seen keys are forgotten first."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float | None:
        """Count one request; None if allowed, else seconds until it would be."""
        start, count = self._windows.pop(key, (now, 0))
        if now - start >= self._window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        while len(self._windows) > self._max_keys:
            self._windows.popitem(last=False)
        if count > self._limit:
            return max(0.0, start + self._window - now)
        return None
