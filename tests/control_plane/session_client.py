"""A node's side of the fleet session for tests: the sync grpc API, a reader thread
feeding commands into a queue (as the edge does, minus trio)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc

from shared.fleet import fleet_pb2
from tests.control_plane.helpers import EnrolledNode, stub


class SessionClient:
    def __init__(self, node: EnrolledNode, address: str) -> None:
        self.channel = node.channel(address)
        self._outbox: queue.Queue[fleet_pb2.NodeReport | None] = queue.Queue()
        self.commands: queue.Queue[fleet_pb2.Command | grpc.RpcError | None] = queue.Queue()
        self._call = stub(self.channel).Session(self._requests())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[fleet_pb2.NodeReport]:
        while (report := self._outbox.get()) is not None:
            yield report

    def _read(self) -> None:
        try:
            for command in self._call:
                self.commands.put(command)
            self.commands.put(None)
        except grpc.RpcError as exc:
            self.commands.put(exc)

    def send(self, report: fleet_pb2.NodeReport) -> None:
        self._outbox.put(report)

    def next(self, timeout: float = 5.0) -> fleet_pb2.Command | grpc.RpcError | None:
        return self.commands.get(timeout=timeout)

    def ack(self, report: fleet_pb2.NodeReport, timeout: float = 5.0) -> str:
        """Send a report and wait for its ack; returns the acknowledged status."""
        self.send(report)
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.01, deadline - time.monotonic()))
            assert isinstance(item, fleet_pb2.Command), item
            if item.WhichOneof("kind") == "ack" and item.ack.seq == report.seq:
                return item.ack.status

    def wait_for(self, kind: str, timeout: float = 5.0) -> fleet_pb2.Command:
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.01, deadline - time.monotonic()))
            assert isinstance(item, fleet_pb2.Command), item
            if item.WhichOneof("kind") == kind:
                return item

    def close(self) -> None:
        self._outbox.put(None)
        self._call.cancel()
        self._reader.join(5)
        self.channel.close()
