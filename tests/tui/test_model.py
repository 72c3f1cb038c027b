"""The model and the event decoding: records in, changed row ids out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui import format as fmt
from tui.model import FleetModel
from tui.records import NODE_STATUSES, EnrollmentToken, Load, Node, RecordError, Stream
from tui.screens.fleet import node_row
from tui.sse import ServerEvent
from tui.target import TargetError, resolve_target
from tui.updates import (
    Ignored,
    NodeChanged,
    NodeNeedsFetch,
    NodeRemoved,
    NodeReported,
    Resync,
    StreamChanged,
    StreamEnded,
    StreamNeedsFetch,
    decode_update,
)

NODE = {
    "name": "edge-west",
    "roles": ["edge"],
    "region": "west",
    "status": "healthy",
    "prefixes": ["127.2.0.0/16"],
    "http_url": "http://127.0.0.1:8082",
    "rtmp_url": "",
    "last_report_age": 1.5,
    "draining": False,
    "approved": True,
    "load": {"cpu": 0.5, "egress_bps": 3e9, "viewer_sessions": 12},
    "capacity": {"egress_bps": 1e10},
    "encoders": [{"name": "h264_nvenc", "hardware": True, "usable": True, "detail": ""}],
    "turnup": {"ports": {"ok": True, "detail": "bound"}, "cache": {"ok": False, "detail": "ro"}},
}


def event(kind: str, **data: object) -> ServerEvent:
    return ServerEvent(kind, json.dumps({"kind": kind, "at": 1.0, **data}))


def test_node_parsing_is_forgiving() -> None:
    node = Node.parse(NODE)
    assert node.has_nvenc is True
    assert [(c.name, c.ok) for c in node.turnup] == [("ports", True), ("cache", False)]
    odd = Node.parse({"name": "x", "load": {"cpu": "high"}, "roles": "edge", "capacity": []})
    assert odd.load.cpu is None and odd.roles == () and odd.capacity.egress_bps is None
    assert odd.has_nvenc is None


def test_stream_and_token_timestamps_from_iso_strings() -> None:
    stream = Stream.parse(
        {"channel": "demo", "stream_id": "st_1", "started_at": "2026-11-21T10:00:00Z"}
    )
    assert stream.started_at == 1795255200.0
    token = EnrollmentToken.parse(
        {"id": "t1", "expires_at": "2026-11-21T10:00:00Z", "used_at": None}
    )
    assert token.state == "unused" and token.expires_at == 1795255200.0


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (event("node.status", node="a", status="draining"), NodeNeedsFetch("a")),
        (event("node.enrolled", node="a", status="pending"), NodeNeedsFetch("a")),
        (
            event("node.report", node="a", status="healthy", load={"cpu": 0.1}),
            NodeReported("a", "healthy", Load(cpu=0.1)),
        ),
        (event("node.removed", node="a"), NodeRemoved("a")),
        (event("node.updated", node=NODE), NodeChanged(Node.parse(NODE))),
        (
            event("stream.status", stream_id="st_1", channel="demo", status="live"),
            StreamNeedsFetch("demo", "st_1"),
        ),
        (
            event("stream.status", stream_id="st_1", channel="demo", status="ended"),
            StreamEnded("st_1"),
        ),
        (
            event(
                "stream.updated",
                channel="demo",
                stream_id="s",
                title="t",
                viewer_count=4,
                started_at=1.0,
            ),
            StreamChanged(
                Stream(stream_id="s", channel="demo", title="t", viewer_count=4, started_at=1.0)
            ),
        ),
        (event("channel.created", channel="demo"), Ignored()),
        (event("weather.changed"), Resync("unknown event 'weather.changed'")),
        (ServerEvent("node.status", "{not json"), Resync("undecodable 'node.status' event")),
        (event("node.status", status="x"), Resync("node event without a name")),
    ],
)
def test_decode_update(update: ServerEvent, expected: object) -> None:
    assert decode_update(update) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["node.status", "node.report", "stream.status", "message", "x"]),
    st.text(max_size=80),
)
def test_decode_never_raises_on_any_payload(kind: str, payload: str) -> None:
    decode_update(ServerEvent(kind, payload))


def test_model_reports_only_changed_rows() -> None:
    model = FleetModel()
    a, b = Node.parse(NODE), Node.parse({**NODE, "name": "edge-east"})
    model.replace_nodes([a, b], now=10.0)
    assert model.take_changes().nodes == {"edge-west", "edge-east"}
    model.replace_nodes([a, b], now=12.0)
    assert not model.take_changes()
    assert model.patch_node("edge-west", "draining", Load(cpu=0.9), now=13.0)
    assert not model.patch_node("ghost", None, Load(), now=13.0)
    model.replace_nodes([model.nodes["edge-west"]], now=14.0)
    changes = model.take_changes()
    assert changes.nodes == {"edge-west"} and changes.removed_nodes == {"edge-east"}
    assert model.node_events["edge-west"][-1].text == "status healthy -> draining"
    assert model.node_egress["edge-west"].values() == [3e9, 3e9]


def test_model_streams_keep_a_viewer_history() -> None:
    model = FleetModel()
    for viewers in (1, 5, 9):
        model.upsert_stream(Stream(stream_id="s", channel="c", viewer_count=viewers))
    assert model.stream_viewers["s"].values() == [1, 5, 9]
    model.remove_stream("s")
    changes = model.take_changes()
    assert changes.removed_streams == {"s"} and not changes.streams
    assert "s" not in model.stream_viewers


def test_target_from_flags_then_fleet_file_then_environment(tmp_path: Path) -> None:
    env = {"GLASSCAST_CONTROL_PLANE_URL": "http://env:1", "GLASSCAST_ADMIN_TOKEN": "envtok"}
    assert resolve_target(None, None, cwd=tmp_path, env=env).url == "http://env:1"
    fleet = tmp_path / ".glasscast" / "fleet.json"
    fleet.parent.mkdir()
    fleet.write_text(json.dumps({"control_plane": {"http": "http://up:2/", "admin_token": "t"}}))
    target = resolve_target(None, None, cwd=tmp_path, env=env)
    assert (target.url, target.token) == ("http://up:2", "t")
    assert resolve_target("http://flag:3", "f", cwd=tmp_path, env={}).token == "f"
    with pytest.raises(TargetError, match="--control-plane"):
        resolve_target(None, None, cwd=tmp_path / "nowhere", env={})
    with pytest.raises(TargetError, match="--token"):
        resolve_target("http://x", None, cwd=tmp_path / "nowhere", env={})
    fleet.write_text("{broken")
    with pytest.raises(TargetError, match="unreadable"):
        resolve_target(None, None, cwd=tmp_path, env={})


def test_formats_and_cells_sort_by_value() -> None:
    assert fmt.egress_compact(2e9, 1e10) == "2G/10G 20%"
    assert fmt.bits_per_second(1_500_000) == "1.5 Mb/s"
    assert fmt.byte_size(3 * 1024**3) == "3.0 GiB"
    assert fmt.duration(3725) == "1h02m" and fmt.duration(None) == "-"
    assert fmt.spark([0, 5, 10], 3) == "▁▅█"
    cells = [fmt.cell("10", 10), fmt.cell("9", 9), fmt.cell("-")]
    assert [c.label for c in sorted(cells)] == ["-", "9", "10"]


def test_every_node_status_has_a_colour_in_the_fleet_table() -> None:
    for status in NODE_STATUSES:
        row = node_row(Node.parse({**NODE, "status": status}))
        assert row[3].label == status and row[3].style == fmt.status_style(status) != ""
    assert fmt.status_style("degraded") not in (fmt.status_style("healthy"), "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
fields = st.sampled_from(
    [
        "name",
        "status",
        "roles",
        "load",
        "capacity",
        "encoders",
        "turnup",
        "prefixes",
        "channel",
        "stream_id",
        "started_at",
        "renditions",
        "viewer_count",
        "id",
        "expires_at",
    ]
)


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(fields, json_values, max_size=10))
def test_records_parse_anything_or_refuse_with_record_error(data: dict[str, object]) -> None:
    parsers = ((Node.parse, "name"), (Stream.parse, "channel"), (EnrollmentToken.parse, "id"))
    for parse, identity in parsers:
        given_identity = data.get(identity)
        try:
            record = parse(data)
        except RecordError:
            assert not (isinstance(given_identity, str) and given_identity)
        else:
            assert getattr(record, identity) == given_identity


def test_run_without_a_target_prints_where_to_put_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.app import run

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLASSCAST_CONTROL_PLANE_URL", raising=False)
    monkeypatch.delenv("GLASSCAST_ADMIN_TOKEN", raising=False)
    assert run(None, None) == 2
    assert "--control-plane" in capsys.readouterr().err
