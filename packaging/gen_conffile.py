"""Write the commented default config that the Debian packages install in /etc/glasscast.

Every key of the config is listed with its default and commented out the way
sshd_config does it: ``#key = value`` is a setting, ``# text`` is prose. Uncommenting
a setting changes it; uncommenting all of them loads exactly the defaults. The text
is rendered from `shared.config` at package build time, so the conffile cannot drift
from the code.

    python3 packaging/gen_conffile.py edge|control-plane [OUTPUT]
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from pathlib import Path

import msgspec

from shared.config import (
    CONTROL_PLANE_CONFIG_PATH,
    EDGE_CONFIG_PATH,
    ControlPlaneConfig,
    EdgeConfig,
    dump_toml,
)

KINDS: dict[str, tuple[type[EdgeConfig] | type[ControlPlaneConfig], Path, str]] = {
    "edge": (EdgeConfig, EDGE_CONFIG_PATH, "edge node"),
    "control-plane": (ControlPlaneConfig, CONTROL_PLANE_CONFIG_PATH, "control plane"),
}

_HEADER = """\
# {path}: settings of the Glasscast {what}.
#
# Every key is listed with its default, commented out. To change one, remove the
# '#' in front of it and keep it under its [section]. GLASSCAST_<SECTION>_<KEY>
# environment variables override this file (e.g. GLASSCAST_{example}). A bad
# value stops the service at start with a message naming the key.
#
# This file is a conffile: package upgrades keep your changes.
"""

_TABLE = re.compile(r"^\[\[?([\w.]+)\]\]?$")
_KEY = re.compile(r"^(\w+) = ")
_FIELD = re.compile(r"^\s+(\w+):")


def _struct_of(tp: object) -> type[msgspec.Struct] | None:
    """The Struct a field holds directly or as list items (``list[RenditionEntry]``)."""
    for candidate in (tp, *typing.get_args(tp)):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    return None


def tables(kind: type[msgspec.Struct], prefix: str = "") -> dict[str, type[msgspec.Struct]]:
    """Dotted TOML table name -> the Struct behind it, for every nested section."""
    found: dict[str, type[msgspec.Struct]] = {}
    for field in msgspec.structs.fields(kind):
        struct = _struct_of(field.type)
        if struct is not None:
            name = f"{prefix}{field.name}"
            found[name] = struct
            found.update(tables(struct, f"{name}."))
    return found


def scalar_keys(struct: type[msgspec.Struct]) -> list[msgspec.structs.FieldInfo]:
    """The fields of a section that are plain values, not nested tables."""
    return [f for f in msgspec.structs.fields(struct) if _struct_of(f.type) is None]


def _field_comments(struct: type[msgspec.Struct]) -> dict[str, list[str]]:
    """The comment lines written just above each field in the source of `struct`."""
    comments: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in inspect.getsource(struct).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
        elif match := _FIELD.match(line):
            comments[match.group(1)] = pending
            pending = []
        else:
            pending = []
    return comments


def _type_name(tp: object) -> str:
    """``float`` for ``Annotated[float, Meta(...)] | None``: the value's type, bounds aside."""
    names = []
    for arg in typing.get_args(tp):
        if typing.get_origin(arg) is typing.Annotated:
            arg = typing.get_args(arg)[0]
        if arg is not type(None):
            names.append(getattr(arg, "__name__", str(arg)))
    return " or ".join(names)


def _unset_keys(struct: type[msgspec.Struct], written: set[str]) -> list[str]:
    """Prose lines for keys whose default is unset (TOML has no null to show)."""
    return [
        f"# {f.name}: unset by default ({_type_name(f.type)})"
        for f in scalar_keys(struct)
        if f.name not in written
    ]


def render(kind: str) -> str:
    """The whole commented conffile for `kind` ("edge" or "control-plane")."""
    config_type, path, what = KINDS[kind]
    by_table = tables(config_type)
    comments = {name: _field_comments(struct) for name, struct in by_table.items()}
    out = [_HEADER.format(path=path, what=what, example="HTTP_PORT=8090")]
    table = ""
    written: set[str] = set()

    def close_table() -> None:
        if table:
            while out and not out[-1]:
                out.pop()
            out.extend(_unset_keys(by_table[table], written))
            out.append("")

    # dump_toml writes every value on its key's line, so one line is one setting.
    for line in dump_toml(config_type()).splitlines():
        if match := _TABLE.match(line):
            close_table()
            table, written = match.group(1), set()
            # An array of tables must stay commented whole, or its entries would lose
            # their required keys; plain [section] headers stay live so that
            # uncommenting one key is enough.
            out.append(f"#{line}" if line.startswith("[[") else line)
        elif match := _KEY.match(line):
            key = match.group(1)
            written.add(key)
            out.extend(f"# {text}".rstrip() for text in comments.get(table, {}).get(key, []))
            out.append(f"#{line}")
        else:
            out.append(line)
    close_table()
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or argv[0] not in KINDS:
        print(f"usage: gen_conffile.py {{{'|'.join(KINDS)}}} [OUTPUT]", file=sys.stderr)
        return 2
    text = render(argv[0])
    if len(argv) == 2:
        Path(argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
