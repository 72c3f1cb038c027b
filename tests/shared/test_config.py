"""Config: defaults load, environment overrides, every error names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest

from shared.config import (
    ConfigError,
    ControlPlaneConfig,
    EdgeConfig,
    dump_toml,
    load,
    resolve_path,
)


def test_defaults_load_without_a_file() -> None:
    edge = load(EdgeConfig, None, env={})
    assert edge.rtmp.port == 1935 and edge.http.port == 8081
    assert [r.name for r in edge.transcode.ladder] == [
        "source",
        "720p30",
        "480p30",
        "360p30",
        "160p30",
    ]
    cp = load(ControlPlaneConfig, None, env={})
    assert cp.http.port == 8080 and cp.grpc.port == 50051


@pytest.mark.parametrize("kind", [EdgeConfig, ControlPlaneConfig])
def test_dump_round_trips(
    kind: type[EdgeConfig] | type[ControlPlaneConfig], tmp_path: Path
) -> None:
    config = kind()
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(config))
    assert load(kind, path, env={}) == config
    assert msgspec.convert(tomllib.loads(path.read_text()), kind) == config


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[rtmp]\nport = 1000\n[node]\nname = "a"\n')
    env = {
        "GLASSCAST_RTMP_PORT": "1936",
        "GLASSCAST_NODE_PREFIXES": '["10.0.0.0/8", "2001:db8::/32"]',
        "GLASSCAST_CONTROL_PLANE_URL": "http://cp.example:8080",
        "UNRELATED": "x",
    }
    config = load(EdgeConfig, path, env=env)
    assert config.rtmp.port == 1936
    assert config.node.name == "a"
    assert config.node.prefixes == ["10.0.0.0/8", "2001:db8::/32"]
    assert config.control_plane.url == "http://cp.example:8080"


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("[rtmp]\nport = 'x'\n", {}, "rtmp.port"),
        ("[rtmp]\nport = 70000\n", {}, "rtmp.port"),
        ("[rtmp]\nbogus = 1\n", {}, "rtmp.bogus"),
        ("[bogus]\n", {}, "bogus"),
        ("[node]\nprefixes = ['10.0.0.0/33']\n", {}, "node.prefixes[0]"),
        ("[node]\nroles = ['ingest', 'juggler']\n", {}, "node.roles[1]"),
        ("[node]\nname = 'Bad Name'\n", {}, "node.name"),
        ("[node]\nlatitude = 91.0\n", {}, "node.latitude"),
        ("[[transcode.ladder]]\nname = 'x'\nheight = 'tall'\n", {}, "transcode.ladder[0].height"),
        ("[[transcode.ladder]]\nname = 'x'\n", {}, "transcode.ladder[0]"),
        ("[transcode]\nencoder = 'quicksync'\n", {}, "transcode.encoder"),
        ("", {"GLASSCAST_HTTP_PORTT": "1"}, "http.portt"),
        ("", {"GLASSCAST_HTTP_PORT": "eighty"}, "http.port"),
        ("[http]\ntls_cert = 'a.pem'\n", {}, "http.tls_key"),
    ],
)
def test_bad_edge_config_names_the_key(
    tmp_path: Path, text: str, env: dict[str, str], key: str
) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(EdgeConfig, path, env=env)
    assert caught.value.key == key
    assert repr(key) in str(caught.value)


def test_bad_control_plane_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "cp.toml"
    path.write_text("[routing.cidr_regions]\n'300.0.0.0/8' = 'east'\n")
    with pytest.raises(ConfigError) as caught:
        load(ControlPlaneConfig, path, env={})
    assert caught.value.key == "routing.cidr_regions[0]"


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(EdgeConfig, tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[rtmp\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(EdgeConfig, broken, env={})


def test_resolve_path_prefers_the_explicit_file(tmp_path: Path) -> None:
    installed = tmp_path / "edge.toml"
    assert resolve_path(None, installed) is None
    installed.write_text("")
    assert resolve_path(None, installed) == installed
    assert resolve_path("other.toml", installed) == Path("other.toml")


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[rtmp]\nport = 70000\n", {}, "'rtmp.port': must be within 0..65535, got 70000"),
        ("", {"GLASSCAST_HTTP_PORT": "-1"}, "'http.port': must be within 0..65535, got -1"),
        ("[rtmp]\nmax_pending_per_ip = 0\n", {}, "'rtmp.max_pending_per_ip': must be positive"),
        ("[node]\nlatitude = 91.0\n", {}, "'node.latitude': must be within -90..90, got 91.0"),
        (
            "[node]\nroles = ['ingest', 'juggler']\n",
            {},
            "'node.roles[1]': must be 'ingest', 'transcode', 'shield' or 'edge', got 'juggler'",
        ),
        ("[node]\nroles = []\n", {}, "'node.roles': must be a list of at least one role"),
        (
            "[node]\nname = 'Bad Name'\n",
            {},
            "'node.name': must be 1-63 of a-z, 0-9 and '-', starting alphanumeric",
        ),
        (
            "[transcode]\nencoder = 'quicksync'\n",
            {},
            "'transcode.encoder': must be 'auto', 'nvenc' or 'libx264', got 'quicksync'",
        ),
        ("[http]\nviewer_tokens = 'maybe'\n", {}, "'http.viewer_tokens': must be 'required' or"),
    ],
)
def test_bad_values_say_what_is_allowed(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(EdgeConfig, path, env=env)
    assert message in str(caught.value)


def test_control_plane_bounds_say_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "cp.toml"
    path.write_text("[fleet]\nmissed_reports_unhealthy = 0\n")
    with pytest.raises(ConfigError, match="must be at least 1, got 0"):
        load(ControlPlaneConfig, path, env={})


def test_dump_writes_any_string(tmp_path: Path) -> None:
    config = ControlPlaneConfig()
    config.http.public_url = 'http://cp.example/"quoted"\\\n\t'
    config.routing.cidr_regions = {"10.0.0.0/8": 'a "b"', 'odd "key"': "c"}
    path = tmp_path / "cp.toml"
    path.write_text(dump_toml(config))
    assert msgspec.convert(tomllib.loads(path.read_text()), ControlPlaneConfig) == config
