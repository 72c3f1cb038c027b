"""The conffiles in /etc/glasscast list every key with its default, commented out."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from shared.config import ControlPlaneConfig, EdgeConfig, load

GENERATOR = Path(__file__).resolve().parents[2] / "packaging" / "gen_conffile.py"


def _load_generator() -> ModuleType:
    # packaging/ is scripts, not a package: load the file by path.
    spec = importlib.util.spec_from_file_location("gen_conffile", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()

KINDS = [("edge", EdgeConfig), ("control-plane", ControlPlaneConfig)]
# A setting is '#key = value' (no space after '#', sshd_config style); prose is '# text'.
SETTING = re.compile(r"^#(?=[^\s#])")


def uncomment(text: str) -> str:
    return "\n".join(SETTING.sub("", line) for line in text.splitlines()) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def load_as(
    config_type: type[EdgeConfig] | type[ControlPlaneConfig], path: Path
) -> EdgeConfig | ControlPlaneConfig:
    if config_type is EdgeConfig:
        return load(EdgeConfig, path, env={})
    return load(ControlPlaneConfig, path, env={})


def blocks(text: str) -> dict[str, str]:
    """Table name -> the lines under its header (commented headers included)."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        header = re.match(r"^#?\[\[?([\w.]+)\]\]?$", line)
        if header:
            current = header.group(1)
            found.setdefault(current, [])
        else:
            found.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


@pytest.mark.parametrize(("kind", "config_type"), KINDS)
def test_every_key_is_listed_under_its_table(
    kind: str, config_type: type[EdgeConfig] | type[ControlPlaneConfig]
) -> None:
    by_table = blocks(gen.render(kind))
    tables = gen.tables(config_type)
    assert set(tables) <= set(by_table)
    for table, struct in tables.items():
        for field in gen.scalar_keys(struct):
            shown = re.search(
                rf"^(#{field.name} = |# {field.name}: unset by default)", by_table[table], re.M
            )
            assert shown, f"[{table}] {field.name} is missing from the {kind} conffile"


@pytest.mark.parametrize(("kind", "config_type"), KINDS)
def test_as_shipped_it_loads_to_the_defaults(
    tmp_path: Path, kind: str, config_type: type[EdgeConfig] | type[ControlPlaneConfig]
) -> None:
    assert load_as(config_type, write(tmp_path, gen.render(kind))) == config_type()


@pytest.mark.parametrize(("kind", "config_type"), KINDS)
def test_uncommented_it_loads_to_the_defaults(
    tmp_path: Path, kind: str, config_type: type[EdgeConfig] | type[ControlPlaneConfig]
) -> None:
    text = uncomment(gen.render(kind))
    assert not any(SETTING.match(line) for line in text.splitlines())
    config = load_as(config_type, write(tmp_path, text))
    assert config == config_type()
    # Installed paths are the defaults already; the package creates exactly these.
    assert config.paths.state_dir == "/var/lib/glasscast"
    if isinstance(config, EdgeConfig):
        assert config.paths.cache_dir == "/var/cache/glasscast"


def test_uncommenting_one_setting_changes_only_that_key(tmp_path: Path) -> None:
    text = gen.render("edge").replace("#port = 8081", "port = 8090")
    config = load(EdgeConfig, write(tmp_path, text), env={})
    assert config.http.port == 8090
    assert msgspec.structs.replace(config.http, port=8081) == EdgeConfig().http


def test_unset_keys_are_prose_not_settings() -> None:
    text = gen.render("edge")
    assert "# latitude: unset by default (float)" in text
    # TOML has no null: an uncommented placeholder would not load.
    tomllib.loads(uncomment(text))


def test_main_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "edge.toml"
    assert gen.main(["edge", str(out)]) == 0
    assert out.read_text() == gen.render("edge")
    assert gen.main(["nonsense"]) == 2
