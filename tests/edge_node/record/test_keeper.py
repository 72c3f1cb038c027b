"""Retention sweeps and copies between nodes, on real VOD directories."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.record import build
from edge_node.record.build import VodInfo, parse_listing
from edge_node.record.keeper import VodKeeper, expired
from edge_node.record.recorder import Recorder
from tests.edge_node.record.conftest import Ended


async def _made(ended: Ended, root: Path) -> VodInfo:
    async def report(info: VodInfo) -> float:
        return 1000.0

    recorder = Recorder(root, ended.live, ended.live_root, report)
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        info = await recorder.record(ended.stream_id, "chan")
        nursery.cancel_scope.cancel()
    assert info is not None
    return info


def _serving(root: Path) -> httpx.MockTransport:
    """A node's /vod/ over HTTP, as the delivery app answers it."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers.get("x-test-node") == "signed"
        path = root.joinpath(*request.url.path.split("/")[2:])
        if not path.is_file():
            return httpx.Response(404)
        return httpx.Response(200, content=path.read_bytes())

    return httpx.MockTransport(answer)


class _Signer:
    def header(self) -> tuple[str, str]:
        return "x-test-node", "signed"


async def test_sweeper_deletes_only_expired_vods(ended: Ended, tmp_path: Path) -> None:
    root = tmp_path / "vod"
    await _made(ended, root)
    now = [999.0]

    async def never(info: VodInfo) -> float:
        raise AssertionError("no copy here")

    keeper = VodKeeper(root, never, clock=lambda: now[0], clip_retention=10.0)
    clips = root / "clips"
    clips.mkdir()
    (clips / "cl_old.mp4").write_bytes(b"x")
    os.utime(clips / "cl_old.mp4", (980.0, 980.0))
    (clips / "cl_new.mp4").write_bytes(b"x")
    os.utime(clips / "cl_new.mp4", (995.0, 995.0))
    assert await keeper.sweep() == ["cl_old.mp4"]
    assert (clips / "cl_new.mp4").exists()
    assert (root / ended.stream_id / "master.m3u8").is_file()
    now[0] = 1000.0
    assert expired(root, now[0]) == [ended.stream_id]
    assert await keeper.sweep() == [ended.stream_id]
    assert not (root / ended.stream_id).exists()


async def test_retention_moves_or_deletes_at_once(ended: Ended, tmp_path: Path) -> None:
    root = tmp_path / "vod"
    await _made(ended, root)

    async def never(info: VodInfo) -> float:
        raise AssertionError("no copy here")

    keeper = VodKeeper(root, never, clock=lambda: 2000.0)
    await keeper.retain(ended.stream_id, 5000.0)
    assert await keeper.sweep() == []
    await keeper.retain(ended.stream_id, 0.0)
    assert not (root / ended.stream_id).exists()
    await keeper.retain("st_unknown", 0.0)  # nothing held: nothing to do


async def test_a_copy_is_whole_before_it_is_served_and_reported(
    ended: Ended, tmp_path: Path
) -> None:
    origin_root, shield_root = tmp_path / "origin", tmp_path / "shield"
    info = await _made(ended, origin_root)
    reported: list[VodInfo] = []

    async def report(copy: VodInfo) -> float:
        assert (shield_root / copy.vod_id / build.INFO).is_file()  # published first
        reported.append(copy)
        return 7000.0

    keeper = VodKeeper(
        shield_root,
        report,
        signer=_Signer(),
        transport=_serving(origin_root),  # type: ignore[arg-type]
    )
    await trio.to_thread.run_sync(lambda: (shield_root / build.BUILDING).mkdir(parents=True))
    copied = await keeper.replicate(info.vod_id, "http://origin")
    assert copied == info and reported == [info]
    original = sorted(build.listing(origin_root / info.vod_id))
    assert sorted(build.listing(shield_root / info.vod_id)) == original
    for name in original:
        left = (origin_root / info.vod_id / name).read_bytes()
        assert (shield_root / info.vod_id / name).read_bytes() == left
    assert build.read_expiry(shield_root / info.vod_id) == 7000.0
    assert await keeper.replicate(info.vod_id, "http://origin") is None  # held already


async def test_a_copy_from_a_node_without_it_leaves_nothing_served(tmp_path: Path) -> None:
    async def report(copy: VodInfo) -> float:
        raise AssertionError("nothing copied")

    keeper = VodKeeper(
        tmp_path / "shield", report, signer=_Signer(),  # type: ignore[arg-type]
        transport=_serving(tmp_path / "empty"),
    )  # fmt: skip
    with pytest.raises(httpx.HTTPStatusError):
        await keeper.replicate("st_missing", "http://origin")
    assert not (tmp_path / "shield" / "st_missing").exists()


def test_only_plain_names_are_vod_files() -> None:
    assert build.is_vod_file("high/12.m4s") and build.is_vod_file("vod.mp4")
    for bad in ("../x", "a/../../b", ".journal.json", "a/b/c", "/abs", "", "high/.x"):
        assert not build.is_vod_file(bad), bad


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(st.text(max_size=20), max_size=8).map(
            lambda xs: str(xs).replace("'", '"').encode()
        ),
    )
)
def test_any_listing_from_another_node_is_names_or_refused(data: bytes) -> None:
    try:
        names = parse_listing(data)
    except ValueError:
        return
    assert all(build.is_vod_file(name) for name in names)
