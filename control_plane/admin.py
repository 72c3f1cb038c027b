"""`glasscast admin ...`: scripted operator actions over the control plane's HTTP API.

Talks HTTP only (never the database), so it works against a remote control plane
exactly as against `glasscast up`. Values meant for scripts (tokens, keys) go to
stdout alone; everything else is one line per result, and errors one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FLEET_FILE = Path(".glasscast") / "fleet.json"
TIMEOUT = 10.0


class AdminError(Exception):
    """A one-line reason the command failed."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str


def add_admin_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    channel = sub.add_parser("create-channel", help="create a channel; prints its stream key")
    channel.add_argument("name")
    channel.add_argument("--title", default="")
    channel.add_argument("--category", default="")
    rotate = sub.add_parser("rotate-key", help="rotate a channel's stream key; prints the new one")
    rotate.add_argument("channel")
    token = sub.add_parser("enrollment-token", help="make a one-time enrollment token")
    token.add_argument("--node", default=None, help="only this node name may use it")
    token.add_argument("--ttl", type=int, default=None, help="seconds it stays valid")
    token.add_argument("--manual-approval", action="store_true", default=None)
    nodes = sub.add_parser("nodes", help="list the fleet's nodes")
    nodes.add_argument("--json", action="store_true", help="print the API's JSON")
    for action in ("approve", "drain", "undrain", "revoke"):
        sub.add_parser(action, help=f"{action} a node").add_argument("node")
    end = sub.add_parser("end-stream", help="end a live stream")
    end.add_argument("stream_id")


def resolve_target(url: str | None, token: str | None, fleet_file: Path = FLEET_FILE) -> Target:
    """Flags win; then the local fleet's fleet.json; then the environment."""
    if (url is None or token is None) and fleet_file.exists():
        try:
            fleet = json.loads(fleet_file.read_text())["control_plane"]
            url = url or fleet["http"]
            token = token or fleet["admin_token"]
        except (ValueError, KeyError, TypeError):
            raise AdminError(f"{fleet_file} is not a fleet file") from None
    url = url or os.environ.get("GLASSCAST_CONTROL_PLANE_URL")
    token = token or os.environ.get("GLASSCAST_ADMIN_TOKEN")
    if not url:
        raise AdminError(
            "no control plane: pass --control-plane URL or set GLASSCAST_CONTROL_PLANE_URL"
        )
    if not token:
        raise AdminError("no admin token: pass --token or set GLASSCAST_ADMIN_TOKEN")
    return Target(url.rstrip("/"), token)


def _call(target: Target, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    try:
        with httpx.Client(base_url=target.url, timeout=TIMEOUT) as client:
            response = client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {target.token}"}
            )
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach the control plane at {target.url}: {exc}") from None
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text.strip() or response.reason_phrase
    raise AdminError(f"{response.status_code} {detail}")


def _print_nodes(nodes: list[dict[str, Any]]) -> None:
    rows = [("NAME", "STATUS", "REGION", "ROLES", "LAST REPORT")]
    for node in nodes:
        age = node.get("last_report_age")
        rows.append(
            (
                node["name"],
                node["status"],
                node["region"],
                ",".join(node["roles"]),
                "never" if age is None else f"{age:.1f}s ago",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _dispatch(args: argparse.Namespace, target: Target) -> None:
    command = args.admin_command
    if command == "create-channel":
        body = {"name": args.name, "title": args.title, "category": args.category}
        print(_call(target, "POST", "/api/v1/channels", body)["stream_key"])
    elif command == "rotate-key":
        print(_call(target, "POST", f"/api/v1/channels/{args.channel}/stream-key")["stream_key"])
    elif command == "enrollment-token":
        body = {
            "node_name": args.node,
            "ttl_seconds": args.ttl,
            "manual_approval": args.manual_approval,
        }
        print(_call(target, "POST", "/api/v1/enrollment-tokens", body)["token"])
    elif command == "nodes":
        nodes = _call(target, "GET", "/api/v1/nodes")
        if args.json:
            print(json.dumps(nodes, indent=2))
        else:
            _print_nodes(nodes)
    elif command in ("approve", "drain", "undrain", "revoke"):
        node = _call(target, "POST", f"/api/v1/nodes/{args.node}/{command}")
        print(f"node {node['name']}: {node['status']}")
    elif command == "end-stream":
        stream = _call(target, "POST", f"/api/v1/streams/{args.stream_id}/end")
        print(f"stream {stream['stream_id']} ({stream['channel']}): {stream['status']}")
    else:  # argparse only lets known commands through
        raise AdminError(f"unknown command {command!r}")


def run_admin(args: argparse.Namespace) -> int:
    try:
        _dispatch(args, resolve_target(args.control_plane, args.token))
    except AdminError as exc:
        print(f"glasscast admin: {exc}", file=sys.stderr)
        return 1
    return 0
