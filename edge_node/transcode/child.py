"""The transcode worker process: `python -m edge_node.transcode.child --encoder NAME`.

Reads framed batches of source events on stdin, runs one `Pipeline`, writes framed
batches of encoded events (and a `PipelineStats` about once a second) on stdout.
The transcode settings arrive as JSON in the `GLASSCAST_WORKER_SETTINGS` environment
variable. stdout is the protocol, so it is moved away from fd 1 first and anything
printing (FFmpeg logs, a stray print) lands on stderr instead.

It exits when stdin reaches end of file, after draining the pipeline. SIGINT is
ignored: the node owns this process and stops it by closing stdin or by signal.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import select
import signal
import sys
import threading
import time

import msgspec

from edge_node.media import (
    EncodedEvent,
    SourceConfig,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
    SourcePacket,
)
from edge_node.transcode import framing
from edge_node.transcode.pipeline import Pipeline
from shared.config import TranscodeSection

SETTINGS_ENV = "GLASSCAST_WORKER_SETTINGS"
STATS_INTERVAL = 1.0
_READ_SIZE = 256 * 1024
_OUTPUT_QUEUE = 256
_BATCH = 64

# Named for the module, as everywhere: run with `python -m`, __name__ is "__main__".
log = logging.getLogger(__spec__.name if __spec__ else __name__)

Outgoing = EncodedEvent | None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    settings = msgspec.json.decode(os.environ.get(SETTINGS_ENV, "{}"), type=TranscodeSection)
    outgoing: queue.Queue[Outgoing] = queue.Queue(maxsize=_OUTPUT_QUEUE)
    pipeline = Pipeline(settings, args.encoder, outgoing.put)
    write_loop = _discard_loop if args.discard_output else _write_loop
    writer = threading.Thread(
        target=write_loop, args=(protocol_out, outgoing, pipeline), name="writer", daemon=True
    )
    writer.start()
    try:
        _read_loop(0, pipeline)
    finally:
        pipeline.close("transcoder input closed")
        outgoing.put(None)
        writer.join()
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m edge_node.transcode.child")
    parser.add_argument("--encoder", required=True, help="h264_nvenc or libx264")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--discard-output",
        action="store_true",
        help="drop what the ladder makes instead of writing it (benchmarks: the cost of "
        "the transcoder alone, without the hand-off to the node)",
    )
    return parser.parse_args(argv)


def _read_loop(fd: int, pipeline: Pipeline) -> None:
    reader = framing.FrameReader()
    while True:
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            pipeline.idle()  # nothing waiting: the source, not us, sets the pace now
        data = os.read(fd, _READ_SIZE)
        if not data:
            return
        for value in reader.feed(data):
            pipeline.feed(_as_source_event(value))


def _as_source_event(value: object) -> SourceEvent:
    if isinstance(value, SourcePacket | SourceConfig | SourceDiscontinuity | SourceEnd):
        return value
    raise framing.FramingError(f"not a source event: {type(value).__name__}")


def _write_loop(fd: int, outgoing: queue.Queue[Outgoing], pipeline: Pipeline) -> None:
    next_stats = time.monotonic() + STATS_INTERVAL
    done = False
    try:
        while not done:
            batch, done = _take_batch(outgoing, timeout=max(0.0, next_stats - time.monotonic()))
            if time.monotonic() >= next_stats:
                batch.append(pipeline.stats())
                next_stats = time.monotonic() + STATS_INTERVAL
            if batch:
                _write_all(fd, framing.encode(batch))
    except BrokenPipeError:
        # The node went away; nothing is left to tell. Exit without draining.
        os._exit(0)


def _discard_loop(fd: int, outgoing: queue.Queue[Outgoing], pipeline: Pipeline) -> None:
    while outgoing.get() is not None:
        pass


def _take_batch(outgoing: queue.Queue[Outgoing], timeout: float) -> tuple[list[object], bool]:
    """What is queued (waiting up to `timeout` for the first), and whether it ended."""
    batch: list[object] = []
    try:
        value = outgoing.get(timeout=timeout)
        while value is not None:
            batch.append(value)
            if len(batch) >= _BATCH:
                return batch, False
            value = outgoing.get_nowait()
        return batch, True
    except queue.Empty:
        return batch, False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


if __name__ == "__main__":
    sys.exit(main())
