"""Longest-prefix match over IPv4 and IPv6 CIDRs (pure, built once, read many times).

Each address family keeps one dict per prefix length present, from the network's
integer address (shifted down to its prefix bits) to the values announced for it. A
lookup walks the lengths present, longest first: at most 33 (IPv4) or 129 (IPv6)
dict probes, in practice a handful, since real tables use few distinct lengths. It
is rebuilt when the fleet changes, never per request, so building may be slow-ish
and lookups must not allocate more than the answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")

_BITS = {4: 32, 6: 128}


def parse_address(address: str) -> tuple[int, int] | None:
    """(IP version, integer address); an IPv4-mapped IPv6 address counts as IPv4."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.version, int(parsed)


class _Family(Generic[V]):
    __slots__ = ("bits", "lengths", "tables")

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.tables: dict[int, dict[int, tuple[V, ...]]] = {}
        self.lengths: tuple[int, ...] = ()

    def add(self, network: int, length: int, value: V) -> None:
        table = self.tables.setdefault(length, {})
        key = network >> (self.bits - length)
        held = table.get(key, ())
        if value not in held:
            table[key] = (*held, value)

    def freeze(self) -> None:
        self.lengths = tuple(sorted(self.tables, reverse=True))

    def matches(self, address: int) -> Iterator[tuple[int, tuple[V, ...]]]:
        bits = self.bits
        tables = self.tables
        for length in self.lengths:
            found = tables[length].get(address >> (bits - length))
            if found is not None:
                yield length, found


class PrefixTable(Generic[V]):
    """CIDR -> values; `longest(address)` answers the most specific announcement."""

    def __init__(self, entries: Iterable[tuple[str, V]] = ()) -> None:
        self._families: dict[int, _Family[V]] = {v: _Family(b) for v, b in _BITS.items()}
        self.size = 0
        for cidr, value in entries:
            self.add(cidr, value)
        self.freeze()

    def add(self, cidr: str, value: V) -> None:
        """Add one announcement; raises ValueError for a malformed CIDR."""
        network = ipaddress.ip_network(cidr.strip(), strict=False)
        family = self._families[network.version]
        family.add(int(network.network_address), network.prefixlen, value)
        self.size += 1

    def freeze(self) -> None:
        for family in self._families.values():
            family.freeze()

    def matches(self, address: str) -> Iterator[tuple[int, tuple[V, ...]]]:
        """Every announcement holding `address`, longest prefix first."""
        parsed = parse_address(address)
        if parsed is None:
            return iter(())
        version, value = parsed
        return self._families[version].matches(value)

    def longest(self, address: str) -> tuple[V, ...]:
        """The values of the longest prefix holding `address`; () if none does."""
        for _, values in self.matches(address):
            return values
        return ()
