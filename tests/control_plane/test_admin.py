"""`glasscast admin` against a real control plane, through the real CLI parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.admin import AdminError, resolve_target
from shared.cli import build_parser
from tests.control_plane.helpers import Running, make_config, running_control_plane


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_control_plane(make_config(tmp_path_factory.mktemp("cp") / "state")) as running:
        yield running


def admin(cp: Running, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    base = ["admin", "--control-plane", cp.config.public_url, "--token", cp.admin_token]
    args = build_parser().parse_args([*base, *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_channel_commands_print_keys_alone(cp: Running, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = admin(cp, capsys, "create-channel", "news", "--title", "News")
    assert code == 0 and out.strip().startswith("live_") and len(out.split()) == 1
    code, rotated, _ = admin(cp, capsys, "rotate-key", "news")
    assert code == 0 and rotated.strip().startswith("live_") and rotated != out
    code, _, err = admin(cp, capsys, "create-channel", "news")
    assert code == 1 and err.strip() == "glasscast admin: 409 channel 'news' already exists"


def test_enrollment_token_and_node_actions(cp: Running, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = admin(cp, capsys, "enrollment-token", "--node", "n9", "--ttl", "60")
    assert code == 0 and out.strip().startswith("enr_") and len(out.split()) == 1
    tokens = cp.http.get("/api/v1/enrollment-tokens", headers=cp.admin).json()
    assert any(t["node_name"] == "n9" for t in tokens)
    code, _, err = admin(cp, capsys, "drain", "ghost")
    assert code == 1 and "404" in err and "ghost" in err
    code, out, _ = admin(cp, capsys, "nodes")
    assert code == 0 and out.split() == ["NAME", "STATUS", "REGION", "ROLES", "LAST", "REPORT"]
    code, _, err = admin(cp, capsys, "end-stream", "st_nope")
    assert code == 1 and "404" in err


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["admin", "--control-plane", "http://127.0.0.1:9", "--token", "t", "nodes"]
    )
    assert args.handler(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("glasscast admin: cannot reach") and err.count("\n") == 1


def test_target_comes_from_flags_then_fleet_file_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = tmp_path / "fleet.json"
    monkeypatch.setenv("GLASSCAST_CONTROL_PLANE_URL", "http://env:1")
    monkeypatch.setenv("GLASSCAST_ADMIN_TOKEN", "env-token")
    assert resolve_target(None, None, fleet) == resolve_target("http://env:1", "env-token", fleet)
    fleet.write_text(json.dumps({"control_plane": {"http": "http://f:2/", "admin_token": "ft"}}))
    target = resolve_target(None, None, fleet)
    assert (target.url, target.token) == ("http://f:2", "ft")
    assert resolve_target("http://flag:3", "x", fleet).url == "http://flag:3"
    fleet.write_text("[]")
    with pytest.raises(AdminError, match="not a fleet file"):
        resolve_target(None, None, fleet)
    monkeypatch.delenv("GLASSCAST_ADMIN_TOKEN")
    with pytest.raises(AdminError, match="no admin token"):
        resolve_target(None, None, tmp_path / "absent.json")
