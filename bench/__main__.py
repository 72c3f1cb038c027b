"""Run the side-by-side benchmarks: `./dev bench [NAME ...] [-- ARGS]`.

Each benchmark is a plain script in this directory that runs our code and the peer
a user would pick instead in one run, alternating, and prints its ratios last.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run only when named: the soak takes an hour.
ON_REQUEST = {"soak"}


def main(argv: list[str]) -> int:
    names, _, extra = _split(argv)
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    else:
        scripts = [p for p in scripts if p.stem not in ON_REQUEST]
        missing = set(names) - {p.stem for p in scripts}
        if missing:
            print(f"bench: no benchmark named {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script), *extra], check=False).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nbench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _split(argv: list[str]) -> tuple[list[str], str, list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], "--", argv[i + 1 :]
    return argv, "", []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
