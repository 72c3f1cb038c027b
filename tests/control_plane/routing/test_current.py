"""The current routing table is rebuilt when the fleet changes, and only then."""

from __future__ import annotations

from control_plane.routing.current import CurrentTable
from control_plane.routing.select import NodeView


class Fleet:
    def __init__(self) -> None:
        self.generation = 0
        self.snapshots = 0
        self.nodes = [
            NodeView("a", ("edge",), "east", (), "http://a", "", "healthy", 0.0),
        ]

    def snapshot(self) -> list[NodeView]:
        self.snapshots += 1
        return list(self.nodes)


def test_the_table_is_rebuilt_only_when_the_fleet_changed() -> None:
    fleet = Fleet()
    current = CurrentTable(fleet, {"10.0.0.0/8": "east"})
    first = current.table()
    assert current.table() is first and fleet.snapshots == 1
    fleet.nodes.append(NodeView("b", ("edge",), "west", (), "http://b", "", "healthy", 0.0))
    fleet.generation += 1
    second = current.table()
    assert second is not first and fleet.snapshots == 2
    assert [n.name for n in second.edges.nodes] == ["a", "b"]
    chosen = second.choose_edge("10.1.2.3", "chan", {}, 0.8)
    assert chosen is not None and chosen.name == "a"  # the address's region
