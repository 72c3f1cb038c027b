"""Soak: a local fleet under a live stream, viewers, chat and a steady stream of bad
input for an hour; memory and file descriptors of every product process over time.

Not part of the test run, and left out of `./dev bench` unless named
(`./dev bench soak -- --minutes 60`). What it throws, once a second in turn, is what the
adversarial suite (tests/adversarial/) throws once: oversized and slow headers, deep
JSON, absurd ranges, unfinished RTMP handshakes and wrong stream keys. It prints one
line per sample and a table of RSS (MiB) and FDs per process at start, the middle and
the end; memory is "flat after warm-up" when the middle and the end agree.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fleetlib import leftover_processes, start_fleet, stop_fleet, wait_ready  # noqa: E402
from rtmp_testclient import Publisher  # noqa: E402

Sample = dict[str, tuple[float, int]]  # process label -> (RSS MiB, open FDs)
# What the load did, so a flat line is known to be under load: name -> count.
DONE: Counter[str] = Counter()


def processes(root: int) -> dict[str, int]:
    """`glasscast up` (pid `root`) and every process under it, labelled by role."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit():
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            argv = (Path(f"/proc/{pid}") / "cmdline").read_bytes().decode(errors="replace")
            found[_label(argv.split("\0"), pid)] = pid
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return found


def _label(argv: list[str], pid: int) -> str:
    if "up" in argv:
        return "up"
    if "control-plane" in argv:
        return "control-plane"
    for arg in argv:
        if arg.endswith("edge.toml"):
            return Path(arg).parent.name
    module = next((a for a in argv if a.startswith(("edge_node", "localfleet"))), argv[0])
    return f"{module.rsplit('.', 1)[-1]}:{pid}"


def sample(pids: dict[str, int]) -> Sample:
    out: Sample = {}
    for label, pid in pids.items():
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            rss = next(int(x.split()[1]) for x in status if x.startswith("VmRSS:"))
            out[label] = (rss / 1024, len(list(Path(f"/proc/{pid}/fd").iterdir())))
    return out


# ------------------------------------------------------------------- the load


def viewer(play_url: str, stop: threading.Event) -> None:
    """Plays like hls.js in outline; starts over from /play after any failure."""
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        while not stop.wait(1.0):
            with contextlib.suppress(httpx.HTTPError, IndexError):
                watch(client, play_url, stop)
            DONE["viewer restarts"] += 1


def watch(client: httpx.Client, play_url: str, stop: threading.Event) -> None:
    """The master playlist, then each second the media playlist and its newest segment."""
    master = client.get(play_url).raise_for_status()
    media_url = urljoin(str(master.url), _uris(master.text)[0])
    while not stop.wait(1.0):
        media = client.get(media_url).raise_for_status()
        client.get(urljoin(media_url, _uris(media.text)[-1])).raise_for_status()
        DONE["segments fetched"] += 1


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and line[0] != "#"]


def chatter(api: str, channel: str, name: str, stop: threading.Event) -> None:
    ws_url = api.replace("http", "ws", 1) + f"/api/v1/chat/{channel}"
    while not stop.is_set():
        with contextlib.suppress(Exception):
            token = httpx.post(
                f"{api}/api/v1/chat/token", json={"channel": channel, "name": name}, timeout=10
            ).json()["token"]
            with ws_connect(f"{ws_url}?token={token}", ping_interval=None) as ws:
                for n in itertools.count():
                    # Read what the room sends, as a page does: a client that never
                    # reads is closed as too slow (1008), and the load would stop.
                    if drain(ws, 2.0, stop):
                        return
                    ws.send(json.dumps({"type": "chat_message", "content": f"{name} {n}"}))
                    DONE["chat messages sent"] += 1
        stop.wait(2.0)


def drain(ws: ClientConnection, seconds: float, stop: threading.Event) -> bool:
    """Receive for `seconds`; True when the soak is stopping."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            ws.recv(timeout=min(left, 0.5))
            DONE["chat frames received"] += 1
    return stop.is_set()


def _raw(address: tuple[str, int], data: bytes, read: bool = True) -> None:
    with socket.create_connection(address, timeout=5) as sock, contextlib.suppress(OSError):
        sock.sendall(data)
        while read and sock.recv(65536):
            pass


def attacks(api: str, edge: str, rtmp: str) -> list[Callable[[], None]]:
    cp = _host_port(api)
    edge_address = _host_port(edge)
    ingest = _host_port(rtmp)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    deep = b"[" * 20_000 + b"]" * 20_000
    post = b"POST /api/v1/fleet/enroll HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
    return [
        lambda: _raw(cp, head + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"),
        lambda: _raw(cp, head + b"".join(b"h%d: 1\r\n" % i for i in range(10_000)) + b"\r\n"),
        lambda: _raw(cp, b"GET / HTTP/1.1\r\n"),  # left unfinished: the header timeout
        lambda: _raw(cp, post + b"content-length: %d\r\n\r\n" % len(deep) + deep),
        lambda: _raw(edge_address, b"GET /healthz HTTP/1.1\r\nRange: bytes=0-" + b"9" * 5000),
        lambda: _raw(edge_address, b"GET /live/x/a.m3u8 HTTP/1.1\r\n"),
        lambda: _raw(ingest, b"\x03" + bytes(700), read=False),  # a handshake never finished
        lambda: _raw(ingest, Publisher().opening(key=f"wrong{random.random()}")),
    ]


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def attacker(moves: list[Callable[[], None]], stop: threading.Event) -> None:
    for move in itertools.cycle(moves):
        if stop.wait(1.0):
            return
        with contextlib.suppress(OSError):
            move()
            DONE["bad inputs sent"] += 1


# ------------------------------------------------------------------- the run


@contextlib.contextmanager
def fleet(state_dir: Path) -> Iterator[tuple[dict[str, object], int]]:
    process, log_path = start_fleet(state_dir)
    try:
        yield wait_ready(process, state_dir, log_path), process.pid
    finally:
        stop_fleet(process)
        left = leftover_processes(str(state_dir))
        print(f"processes left after stop: {len(left)}", flush=True)


def report(samples: list[tuple[float, Sample]]) -> None:
    picks = [samples[0], samples[len(samples) // 2], samples[-1]]
    labels = sorted({label for _, s in samples for label in s})
    print("\nprocess".ljust(24) + "".join(f"{f'@{t / 60:.0f} min':>22}" for t, _ in picks))
    for label in labels:
        cells = []
        for _, s in picks:
            rss, fds = s.get(label, (float("nan"), -1))
            cells.append(f"{rss:9.1f} MiB {fds:5d} fd")
        print(label.ljust(23) + "".join(f"{c:>22}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--chatters", type=int, default=5)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument(
        "--dvr-window",
        type=int,
        default=600,
        help="the nodes' DVR window: an origin's memory grows with it until it is full, "
        "so warm-up lasts this long (the 4 h default would outlast the soak)",
    )
    args = parser.parse_args()
    os.environ["GLASSCAST_DVR_WINDOW_SECONDS"] = str(args.dvr_window)
    with tempfile.TemporaryDirectory(prefix="glasscast-soak-") as tmp:
        state_dir = Path(tmp) / "fleet"
        with fleet(state_dir) as (info, root):
            soak(info, root, args)


def soak(info: dict[str, object], root: int, args: argparse.Namespace) -> None:
    api = info["control_plane"]["http"]  # type: ignore[index]
    nodes = {n["name"]: n for n in info["nodes"]}  # type: ignore[attr-defined]
    channel = info["demo"]["channel"]  # type: ignore[index]
    stop = threading.Event()
    workers = [
        *(
            threading.Thread(target=viewer, args=(f"{api}/play/{channel}.m3u8", stop))
            for _ in range(args.viewers)
        ),
        *(
            threading.Thread(target=chatter, args=(api, channel, f"soak{i}", stop))
            for i in range(args.chatters)
        ),
        threading.Thread(
            target=attacker,
            args=(attacks(api, nodes["edge-west"]["http"], nodes["ingest-east"]["rtmp"]), stop),
        ),
    ]
    for worker in workers:
        worker.start()
    samples: list[tuple[float, Sample]] = []
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            samples.append((elapsed, sample(processes(root))))
            print(f"{elapsed / 60:6.1f} min  " + "  ".join(
                f"{k} {v[0]:.0f}M/{v[1]}fd" for k, v in sorted(samples[-1][1].items())
            ), flush=True)  # fmt: skip
            if elapsed >= args.minutes * 60:
                break
            time.sleep(min(args.interval, args.minutes * 60 - elapsed + 0.01))
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    report(samples)
    print("\n" + ", ".join(f"{name}: {count}" for name, count in sorted(DONE.items())))


if __name__ == "__main__":
    main()
