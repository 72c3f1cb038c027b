"""Which control plane the TUI talks to, and with what token.

In order: the command line; `.glasscast/fleet.json` (written by `glasscast up` in the
working directory); the GLASSCAST_CONTROL_PLANE_URL / GLASSCAST_ADMIN_TOKEN
environment variables. Anything still missing is an error that says where to put it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FLEET_FILE = Path(".glasscast") / "fleet.json"
URL_ENV = "GLASSCAST_CONTROL_PLANE_URL"
TOKEN_ENV = "GLASSCAST_ADMIN_TOKEN"


class TargetError(ValueError):
    """The control plane's address or the admin token could not be found."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str


def _from_fleet_file(path: Path) -> tuple[str | None, str | None]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        raise TargetError(f"{path} is unreadable: {exc}") from None
    section = data.get("control_plane") if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        return None, None
    url, token = section.get("http"), section.get("admin_token")
    return (url if isinstance(url, str) and url else None), (
        token if isinstance(token, str) and token else None
    )


def resolve_target(
    control_plane: str | None,
    token: str | None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Target:
    environ = os.environ if env is None else env
    file_url, file_token = _from_fleet_file((cwd or Path.cwd()) / FLEET_FILE)
    url = control_plane or file_url or environ.get(URL_ENV) or None
    secret = token or file_token or environ.get(TOKEN_ENV) or None
    if not url:
        raise TargetError(
            f"no control plane given: pass --control-plane URL, run inside a `glasscast up` "
            f"directory ({FLEET_FILE}), or set {URL_ENV}"
        )
    if not url.startswith(("http://", "https://")):
        raise TargetError(f"control plane URL {url!r} must start with http:// or https://")
    if not secret:
        raise TargetError(
            f"no admin token given: pass --token T, run inside a `glasscast up` "
            f"directory ({FLEET_FILE}), or set {TOKEN_ENV}"
        )
    return Target(url.rstrip("/"), secret)
