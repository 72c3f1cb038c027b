"""The `glasscast` command: one entry point, a subcommand per job.

Each subcommand imports its package only when it runs, so `glasscast tui` never
loads PyAV and `glasscast edge` never loads Litestar.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from shared import lifeline
from shared.config import ConfigError

Handler = Callable[[argparse.Namespace], int]


def _up(args: argparse.Namespace) -> int:
    from localfleet import run_up

    return run_up(
        state_dir=args.state_dir,
        demo=not args.no_demo,
        grace=args.reconnect_grace,
        verbose=args.verbose,
    )


def _control_plane(args: argparse.Namespace) -> int:
    from control_plane.app import run

    return run(args.config)


def _edge(args: argparse.Namespace) -> int:
    if args.edge_command == "enroll":
        from edge_node.fleet.enroll import run_enroll

        return run_enroll(
            control_plane=args.control_plane,
            token=args.token,
            config_path=args.config,
            name=args.name,
        )
    from edge_node.main import run

    return run(args.config)


def _tui(args: argparse.Namespace) -> int:
    from tui.app import run

    return run(control_plane=args.control_plane, token=args.token)


def _admin(args: argparse.Namespace) -> int:
    from control_plane.admin import run_admin

    return run_admin(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glasscast", description="Glasscast: a live-streaming delivery network."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run a local fleet on loopback (control plane + 3 nodes)")
    up.add_argument("--state-dir", type=Path, default=Path(".glasscast"))
    up.add_argument("--no-demo", action="store_true", help="do not push the demo stream")
    up.add_argument(
        "--reconnect-grace", type=float, default=15.0, help="seconds a dropped stream waits"
    )
    up.add_argument(
        "--verbose", action="store_true", help="show every log line of every process here"
    )
    up.set_defaults(handler=_up)

    cp = sub.add_parser("control-plane", help="run the control plane")
    cp.add_argument("--config", type=Path, default=None)
    cp.set_defaults(handler=_control_plane)

    edge = sub.add_parser("edge", help="run one edge node, or enroll it")
    edge.add_argument("--config", type=Path, default=None)
    edge.set_defaults(handler=_edge, edge_command=None)
    edge_sub = edge.add_subparsers(dest="edge_command")
    enroll = edge_sub.add_parser("enroll", help="enroll this node with a control plane")
    enroll.add_argument("--control-plane", required=True, help="control plane URL")
    enroll.add_argument("--token", required=True, help="one-time enrollment token")
    # SUPPRESS: `glasscast edge --config X enroll` must keep the parent's value.
    enroll.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    enroll.add_argument("--name", default=None, help="node name (default: from config)")

    tui = sub.add_parser("tui", help="the operator terminal UI")
    tui.add_argument("--control-plane", default=None)
    tui.add_argument("--token", default=None)
    tui.set_defaults(handler=_tui)

    admin = sub.add_parser("admin", help="scripted operator actions")
    admin.add_argument("--control-plane", default=None)
    admin.add_argument("--token", default=None)
    admin.set_defaults(handler=_admin)
    try:
        from control_plane.admin import add_admin_commands
    except ImportError:  # pragma: no cover - only while the admin module is absent
        pass
    else:
        add_admin_commands(admin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Started by `glasscast up`: stop when it is gone, even if it was SIGKILLed.
    lifeline.watch()
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"glasscast: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
