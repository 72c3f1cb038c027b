"""An edge serves a VOD it does not hold: located, pulled once, cached, immutable."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream
from edge_node.record.build import VodInfo
from edge_node.record.locate import VodLocator
from edge_node.record.recorder import Recorder
from shared.config import HttpSection
from tests.edge_node.record.conftest import Ended


def _segment_requests(app: DeliveryApp) -> float:
    total = 0.0
    for line in app.metrics.render().decode().splitlines():
        if line.startswith("glasscast_http_requests_total{") and 'kind="segment"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_an_edge_pulls_a_vod_through_once(ended: Ended, tmp_path: Path) -> None:
    async def report(info: VodInfo) -> float:
        return 2e9

    origin_root = tmp_path / "origin-vod"
    recorder = Recorder(origin_root, ended.live, ended.live_root, report)
    origin = DeliveryApp(DeliverySources(vod_root=origin_root), ViewerSessions(None, "open"))
    asked: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        info = await recorder.record(ended.stream_id, "chan")
        assert info is not None
        config = HttpSection(host="127.0.0.1", port=0)
        origin_port = await nursery.start(serve_http, config, origin)
        origin_url = f"http://127.0.0.1:{origin_port}"

        async def locate(vod_id: str) -> tuple[str, ...]:
            asked.append(vod_id)
            return (origin_url,) if vod_id == ended.stream_id else ()

        locator = VodLocator(locate, lambda: "http://edge")
        cache = SegmentCache(tmp_path / "cache", 10**8)
        upstream = Upstream(locator.table, cache)
        await nursery.start(upstream.run)
        edge = DeliveryApp(
            DeliverySources(
                cache=cache,
                vod_root=tmp_path / "edge-vod",
                vod_upstream=upstream,
                vod_locations=locator,
            ),
            ViewerSessions(None, "open"),
        )
        edge_port = await nursery.start(serve_http, config, edge)
        base = f"http://127.0.0.1:{edge_port}/vod/{ended.stream_id}"
        async with httpx.AsyncClient(timeout=10) as client:
            bodies: list[bytes] = []

            async def viewer() -> None:
                answer = await client.get(f"{base}/high/1.m4s")
                assert answer.status_code == 200
                assert "immutable" in answer.headers["cache-control"]
                bodies.append(answer.content)

            async with trio.open_nursery() as viewers:
                for _ in range(20):
                    viewers.start_soon(viewer)
            expected = (origin_root / ended.stream_id / "high" / "1.m4s").read_bytes()
            assert set(bodies) == {expected}
            assert _segment_requests(origin) == 1
            again = await client.get(f"{base}/high/1.m4s")
            assert again.content == expected and _segment_requests(origin) == 1
            master = await client.get(f"{base}/master.m3u8")
            assert master.status_code == 200 and b"high/index.m3u8" in master.content
            unknown = await client.get(f"http://127.0.0.1:{edge_port}/vod/st_none/master.m3u8")
            assert unknown.status_code == 404
        assert asked == [ended.stream_id, "st_none"]
        nursery.cancel_scope.cancel()
    cache.close()
