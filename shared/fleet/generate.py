"""Regenerate the fleet protocol's Python stubs from fleet.proto.

Run ``python -m shared.fleet.generate``; a test checks the committed stubs match.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PROTO = Path("shared/fleet/fleet.proto")


def generate(out_root: Path = ROOT) -> None:
    """Write fleet_pb2.py, .pyi and fleet_pb2_grpc.py under `out_root`/shared/fleet/."""
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    (out_root / PROTO.parent).mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
