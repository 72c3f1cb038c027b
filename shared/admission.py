"""Connection caps, in total and per client address: one table for every listener."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


def _nobody(address: str) -> bool:
    return False


@dataclass
class ConnectionCaps:
    """Open connections by client address, refused past `total` or `per_address`.

    Addresses `exempt` says yes to (reverse proxies, whose connections carry many clients)
    count towards the total but have no per-address cap. Only admitted addresses are
    kept, so the table is bounded by `total` whatever an attacker sends.
    """

    total: int
    per_address: int
    exempt: Callable[[str], bool] = _nobody
    open: int = 0
    _open: Counter[str] = field(default_factory=Counter)

    def admit(self, address: str) -> bool:
        if self.open >= self.total:
            return False
        if not self.exempt(address) and self._open[address] >= self.per_address:
            return False
        self._open[address] += 1
        self.open += 1
        return True

    def count(self, address: str) -> int:
        """Connections `address` holds open now."""
        return self._open.get(address, 0)

    def release(self, address: str) -> None:
        self.open -= 1
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]
