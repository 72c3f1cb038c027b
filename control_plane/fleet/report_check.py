"""What the control plane refuses in a node report (pure).

A node validates its own config at start, but a report is input from the network:
a prefix that does not parse or a region nobody could configure would poison the
routing table for every client, so the report is refused with the key named.
"""

from __future__ import annotations

import ipaddress
import math
import re

from shared.config import ROLES
from shared.fleet import fleet_pb2

_REGION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Far more than any operator announces; a report is held in memory per node.
MAX_PREFIXES = 4096


class ReportRefused(ValueError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key


def check_report(report: fleet_pb2.NodeReport) -> None:
    """Raise `ReportRefused` naming the first bad key (as in the node's config)."""
    if not _REGION.fullmatch(report.region):
        raise ReportRefused("node.region", "must be 1-64 of letters, digits, '_', '.', '-'")
    for i, role in enumerate(report.roles):
        if role not in ROLES:
            raise ReportRefused(f"node.roles[{i}]", f"unknown role {role[:64]!r}")
    if len(report.prefixes) > MAX_PREFIXES:
        raise ReportRefused("node.prefixes", f"more than {MAX_PREFIXES} prefixes")
    for i, cidr in enumerate(report.prefixes):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ReportRefused(
                f"node.prefixes[{i}]", f"{cidr[:64]!r} is not a valid CIDR prefix"
            ) from None
    _check_coordinate(report, "latitude", 90.0)
    _check_coordinate(report, "longitude", 180.0)


def _check_coordinate(report: fleet_pb2.NodeReport, name: str, limit: float) -> None:
    if not report.HasField(name):
        return
    value = getattr(report, name)
    if not (math.isfinite(value) and -limit <= value <= limit):
        raise ReportRefused(f"node.{name}", f"must be within -{limit:g}..{limit:g}")
