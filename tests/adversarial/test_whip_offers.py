"""WHIP on ingest-east's HTTP port under hostile publishers, on a real fleet: broken,
huge and unusable offers, and a flood of offers whose ICE never completes. Each answer
is checked, then the node's health and the WebRTC worker's footprint."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fleetlib import Fleet, descendants, node_pid, wait_for

from .conftest import connect, footprint, read_answer, status_of, wait_for_fds

NODE = "ingest-east"
ATTACKER = "127.0.0.77"
OFFER = (
    Path(__file__).resolve().parents[1] / "edge_node/ingest/corpus/whip_offer_obs.sdp"
).read_bytes()


def _post(fleet: Fleet, body: bytes, key: str = "x", channel: str = "whip-hostile") -> int:
    port = int(urlsplit(fleet.node(NODE)["http"]).port or 80)
    head = (
        f"POST /whip/{channel} HTTP/1.1\r\nHost: e\r\nContent-Type: application/sdp\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with connect(port, ATTACKER) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        return status_of(read_answer(sock))


def _worker_pid(fleet: Fleet) -> int:
    pid = node_pid(fleet, NODE)
    assert pid is not None
    for child in descendants(pid):
        if "edge_node.ingest.whip.worker" in Path(f"/proc/{child.pid}/cmdline").read_text():
            return child.pid
    raise AssertionError("no WebRTC worker under the node")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"v=0\r\n" * 200_000, 413), (b"\x00\xff" * 500, 400), (b"v=0\r\nm=video\r\n", 400),
     (OFFER.replace(b"H264", b"VP9"), 415), (b"", 400)],
    # Short ids: pytest puts the id in the environment, and a 1 MB one fails every exec.
    ids=["1MB", "binary", "no-attributes", "vp9", "empty"],
)  # fmt: skip
def test_bad_offers_are_refused_with_a_reason(fleet: Fleet, body: bytes, status: int) -> None:
    key = fleet.create_channel(f"whip-bad-{status}-{len(body)}")
    assert _post(fleet, body, key, f"whip-bad-{status}-{len(body)}") == status


def test_a_flood_of_offers_that_never_connect_is_bounded(fleet: Fleet) -> None:
    worker = _worker_pid(fleet)
    before = footprint(worker)
    key = fleet.create_channel("whip-flood")
    statuses = [_post(fleet, OFFER, key, "whip-flood") for _ in range(100)]
    # One offer is answered; the channel is then live, and every other offer is refused
    # by the control plane without reaching the worker.
    assert statuses.count(201) == 1 and set(statuses) == {201, 403}, statuses
    # The answered session never completes ICE: the worker drops it (15 s), its UDP
    # socket and its grant, and the channel ends after the grace.
    wait_for_fds(worker, before.fds, seconds=30)
    wait_for(lambda: fleet.live("whip-flood") is None, 30, "the unconnected stream to end")
    assert footprint(worker).rss_kib < before.rss_kib + 64 * 1024


def test_the_node_is_healthy_after_all_of_it(fleet: Fleet) -> None:
    assert httpx.get(f"{fleet.node(NODE)['http']}/healthz", timeout=5).status_code == 200
