"""The planned local fleet: every ingest node gets an SRT port of its own, written into its
config and announced in fleet.json."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from localfleet.topology import plan
from localfleet.up import _fleet_json
from shared.config import EdgeConfig, load


def test_ingest_nodes_listen_for_srt_on_their_own_port(tmp_path: Path) -> None:
    fleet = plan(tmp_path, reconnect_grace=6.0)
    ingest = [n for n in fleet.nodes if "ingest" in n.spec.roles]
    assert len(ingest) == 2
    ports = {n.config.srt.port for n in ingest}
    assert len(ports) == 2 and 0 not in ports
    for node in ingest:
        written = load(EdgeConfig, node.config_path)
        assert (written.srt.host, written.srt.port) == ("127.0.0.1", node.config.srt.port)
        assert node.srt_url == f"srt://127.0.0.1:{node.config.srt.port}"
    nodes = cast(list[dict[str, str]], _fleet_json(fleet, "token", "live_key")["nodes"])
    entries = {n["name"]: n for n in nodes}
    assert entries["ingest-east"]["srt"].startswith("srt://127.0.0.1:")
    assert entries["edge-west"]["srt"].startswith("srt://127.0.0.1:")
    assert "srt" not in entries["shield-east"]
