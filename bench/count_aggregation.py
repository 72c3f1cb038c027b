"""Viewer-count aggregation: 1,000 edges reporting 10,000 streams every 2 s.

Each stream is carried by a few edges (Zipf-popular streams by more), each viewer
session sits at one of its stream's edges, and between two report rounds a share of
the sessions leave and new ones arrive. One round is every edge's report once
(what the control plane receives in one report interval). Timed per round, on one
core: decoding each report's streams (`StreamSnapshot.from_pb`), the incremental
union (`LiveFleet.record_streams`), and the once-a-second count of every stream
(peaks). The baseline, in the same run, alternating: what the control plane did
before, a union recomputed from every carrier's set for each stream of each report.

Target: under 10% of one core (a round under 0.2 s of CPU for a 2 s interval).

    .venv/bin/python bench/count_aggregation.py [--edges 1000] [--streams 10000]
        [--viewers 300000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict

from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.streams.viewers import EdgeViewers, count_viewers
from shared.fleet import fleet_pb2

INTERVAL = 2.0


class Audience:
    """Who watches what where, changing a little every round."""

    def __init__(self, args: argparse.Namespace, rng: random.Random) -> None:
        self.rng = rng
        self.churn = args.churn
        weights = [1.0 / (i + 1) for i in range(args.streams)]  # Zipf-ish popularity
        self.carriers: list[list[int]] = []
        for i in range(args.streams):
            spread = min(args.edges, 2 + int(40 * weights[i] / weights[0]) + rng.randrange(4))
            self.carriers.append(rng.sample(range(args.edges), spread))
        self.streams = args.streams
        self.edges = args.edges
        self.weights = weights
        self.sessions: dict[int, tuple[int, int]] = {}  # hash -> (stream, edge)
        self._arrive(args.viewers)

    def _arrive(self, count: int) -> None:
        streams = self.rng.choices(range(self.streams), weights=self.weights, k=count)
        for stream in streams:
            edge = self.rng.choice(self.carriers[stream])
            self.sessions[self.rng.getrandbits(63)] = (stream, edge)

    def step(self) -> None:
        leaving = self.rng.sample(list(self.sessions), int(len(self.sessions) * self.churn))
        for h in leaving:
            del self.sessions[h]
        self._arrive(len(leaving))

    def reports(self) -> list[tuple[str, fleet_pb2.NodeReport]]:
        per_edge: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for stream, edges in enumerate(self.carriers):
            for edge in edges:
                per_edge[edge][stream]
        for h, (stream, edge) in self.sessions.items():
            per_edge[edge][stream].append(h)
        out = []
        for edge in range(self.edges):
            report = fleet_pb2.NodeReport(
                streams=[
                    fleet_pb2.StreamReport(
                        stream_id=f"st_{stream:05d}",
                        viewer_sessions=len(hashes),
                        session_hashes=hashes,
                        state="live",
                    )
                    for stream, hashes in per_edge[edge].items()
                ]
            )
            out.append((f"edge-{edge:04d}", report))
        return out


class Incremental:
    """The control plane's way: incremental union, counts read once a second."""

    name = "incremental union (ours)"

    def __init__(self) -> None:
        self.live = LiveFleet()
        self.now = 0.0

    def handle(self, node: str, report: fleet_pb2.NodeReport) -> None:
        self.live.record_streams(
            node, [StreamSnapshot.from_pb(s) for s in report.streams], self.now
        )

    def end_of_round(self, stream_ids: list[str]) -> dict[str, int]:
        # The peak flush runs once a second: two per round, the last one counted here.
        self.live.expire(self.now - 2 * INTERVAL)
        counts = {s: self.live.viewer_count(s) for s in stream_ids}
        self.now += INTERVAL
        return counts


class Recount:
    """The baseline: every report recounts its streams from every carrier's set."""

    name = "recount per report (baseline)"

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, EdgeViewers]] = defaultdict(dict)
        self.counts: dict[str, int] = {}

    def handle(self, node: str, report: fleet_pb2.NodeReport) -> None:
        for s in report.streams:
            snapshot = StreamSnapshot.from_pb(s)
            carriers = self.latest[snapshot.stream_id]
            carriers[node] = snapshot.viewers
            self.counts[snapshot.stream_id] = count_viewers(carriers.values())

    def end_of_round(self, stream_ids: list[str]) -> dict[str, int]:
        return {s: self.counts.get(s, 0) for s in stream_ids}


def run_round(
    way: Incremental | Recount, reports: list[tuple[str, fleet_pb2.NodeReport]], ids: list[str]
) -> tuple[float, dict[str, int]]:
    start = time.process_time()
    for node, report in reports:
        way.handle(node, report)
    counts = way.end_of_round(ids)
    return time.process_time() - start, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--viewers", type=int, default=300_000)
    parser.add_argument("--churn", type=float, default=0.05, help="share leaving per round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(3)
    audience = Audience(args, rng)
    ids = [f"st_{i:05d}" for i in range(args.streams)]
    ours, baseline = Incremental(), Recount()
    times: dict[str, list[float]] = {ours.name: [], baseline.name: []}
    # The first round fills empty state (every session is new): measured apart.
    first: dict[str, float] = {}
    for round_ in range(args.rounds + 1):
        reports = audience.reports()
        truth: defaultdict[str, int] = defaultdict(int)
        for stream, _ in audience.sessions.values():
            truth[f"st_{stream:05d}"] += 1
        order = (ours, baseline) if round_ % 2 == 0 else (baseline, ours)
        for way in order:
            seconds, counts = run_round(way, reports, ids)
            assert all(counts[s] == truth.get(s, 0) for s in ids), f"{way.name} miscounted"
            if round_ == 0:
                first[way.name] = seconds
            else:
                times[way.name].append(seconds)
        audience.step()
        print(f"  round {round_}/{args.rounds} done", file=sys.stderr)
    pairs = sum(len(c) for c in audience.carriers)
    print(
        f"\n{args.edges} edges, {args.streams} streams on {pairs} (edge, stream) pairs, "
        f"{len(audience.sessions):,} viewers, {args.churn:.0%} churn per {INTERVAL:g} s round"
    )
    print(
        "\n                                 first round s   per round s (median, max)   core share"
    )
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:<32} {first[name]:>13.3f}   {median:>10.3f} {max(samples):>10.3f}"
            f"            {median / INTERVAL:>8.1%}"
        )
    ratio = statistics.median(times[baseline.name]) / statistics.median(times[ours.name])
    share = statistics.median(times[ours.name]) / INTERVAL
    print("\nratios")
    print(f"  CPU per round, baseline / ours: {ratio:.1f}x")
    print(f"  core share vs target 10%: {share / 0.10:.2f}x of the budget")


if __name__ == "__main__":
    main()
