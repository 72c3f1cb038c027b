"""The delivery app: routes for viewers and downstream nodes, served locally or pulled.

A stream this node is the origin of (no upstream in the `UpstreamTable`) is answered
from `LocalMedia`; any other from the segment cache, filling misses through
`Upstream`. The node builds one `DeliveryApp` and hands it to `server.serve_http`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge_node.deliver import objects, whip_routes
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.fill import Fill, UpstreamBroken
from edge_node.deliver.http import Request
from edge_node.deliver.local import LocalMedia
from edge_node.deliver.metrics import DeliveryMetrics
from edge_node.deliver.nodeauth import HEADER_BYTES, NodeAuthError, NodeVerifier
from edge_node.deliver.paths import BadTarget, Route, RouteKind, is_name, object_kind, parse_target
from edge_node.deliver.response import FileBody, Response
from edge_node.deliver.sessions import Forbidden, ViewerSessions, carry_query
from edge_node.deliver.upstream import BLOCKING_PLAYLIST_TTL, PLAYLIST_TTL, Upstream

_FORWARDED_QUERY = ("_HLS_msn", "_HLS_part", "_HLS_skip", "dvr")
# Under /vod/: the live streams' stills (`edge_node.record.stills`), never pulled through.
_LIVE_STILLS = "thumbs"


class VodLocations(Protocol):
    """Where a VOD not on this node's disk lives (`edge_node.record.locate`)."""

    async def bases(self, vod_id: str) -> tuple[str, ...]: ...


@dataclass
class DeliverySources:
    """Where answers come from; any of them may be absent on a given node."""

    local: LocalMedia | None = None
    cache: SegmentCache | None = None
    upstream: Upstream | None = None
    vod_root: Path | None = None
    # A VOD not under `vod_root` is pulled through `vod_upstream` from where
    # `vod_locations` says it lives (the upstream's table is the locator's).
    vod_upstream: Upstream | None = None
    vod_locations: VodLocations | None = None


class DeliveryApp:
    def __init__(
        self,
        sources: DeliverySources,
        sessions: ViewerSessions,
        *,
        node_verifier: NodeVerifier | None = None,
        viewer_facing: bool = True,
        health: Callable[[], Mapping[str, Any]] = dict,
        metrics_text: Callable[[], bytes] = bytes,
        whip: whip_routes.WhipEndpoint | None = None,
    ) -> None:
        self.sources = sources
        # WHIP ingest (ingest nodes): the only routes taking POST and DELETE.
        self._whip = whip
        self.write_methods = whip_routes.WRITE_METHODS if whip is not None else frozenset()
        self.sessions = sessions
        self._verifier = node_verifier
        # A shield serves nodes only: every media route then needs a node assertion.
        self._viewer_facing = viewer_facing
        self._health = health
        self._metrics_text = metrics_text
        cache = sources.cache
        self.metrics = DeliveryMetrics(
            cache_stats=lambda: cache.stats() if cache is not None else None,
            sessions=sessions.active_sessions,
        )
        if sources.upstream is not None and sources.upstream.observe is None:
            sources.upstream.observe = self.metrics.upstream

    async def handle(self, request: Request, client: str) -> Response:
        try:
            route = parse_target(request.target)
        except BadTarget as exc:
            return self._count("other", objects.error(exc.status, str(exc)), "local")
        if route.kind is RouteKind.WHIP:
            return await whip_routes.handle(self._whip, request, route, client)
        if request.method in whip_routes.WRITE_METHODS:
            return self._count("other", objects.error(405, "method not allowed"), "local")
        if request.method == b"OPTIONS":
            return objects.preflight()
        if route.kind is RouteKind.HEALTHZ:
            body = json.dumps({"status": "ok", **self._health()}).encode()
            return Response(200, [(b"content-type", b"application/json")], body)
        if route.kind is RouteKind.METRICS:
            body = self.metrics.render() + self._metrics_text()
            return Response(200, [(b"content-type", b"text/plain; version=0.0.4")], body)
        from_node = self._node_request(request)
        if from_node is None or (not from_node and not self._viewer_facing):
            return self._count("other", objects.error(403, "node assertion required"), "local")
        try:
            if route.kind is RouteKind.MASTER:
                return await self._master(request, route, from_node)
            if route.kind is RouteKind.MEDIA:
                return await self._media_playlist(request, route, from_node)
        except Forbidden as exc:
            return self._count("playlist", objects.error(403, str(exc)), "local")
        if route.kind is RouteKind.FILE:
            return await self._file(request, route)
        return await self._vod(request, route)

    def _node_request(self, request: Request) -> bool | None:
        """True for a verified node, False for a viewer, None for a bad assertion."""
        value = request.header(HEADER_BYTES)
        if value is None:
            return False
        if self._verifier is None:
            return None
        try:
            self._verifier.verify(value)
        except NodeAuthError:
            return None
        return True

    def _count(self, kind: str, response: Response, cache: str) -> Response:
        body = response.body
        if isinstance(body, bytes):
            size: int | None = len(body)
        elif isinstance(body, FileBody):
            size = body.length
        else:
            size = body.length
        self.metrics.request(kind, response.status, cache, size or 0)
        return response

    # ------------------------------------------------------------- playlists

    async def _master(self, request: Request, route: Route, from_node: bool) -> Response:
        carry = None
        if not from_node:
            carry = self.sessions.admit(
                route.stream_id, route.param("token"), route.param("session")
            )
        upstream = self._upstream_for(route.stream_id)
        body: bytes | int | None
        if upstream is None:
            local = self.sources.local
            body = None
            if local is not None:
                await local.wait_ladder(route.stream_id)
                body = local.master_playlist(route.stream_id)
            cache = "local"
        else:
            path = f"/live/{route.stream_id}/master.m3u8"
            fill = upstream.fetch(route.stream_id, path, cache_key=None, ttl=BLOCKING_PLAYLIST_TTL)
            body, cache = await _playlist_from(fill)
            if isinstance(body, int):
                return self._count("playlist", objects.error(body), cache)
        if body is None or isinstance(body, int):
            return self._count("playlist", self._unknown(), cache)
        if carry is not None:
            body = carry_query(body, carry)
        return self._count("playlist", objects.playlist(request, body), cache)

    async def _media_playlist(self, request: Request, route: Route, from_node: bool) -> Response:
        if not from_node:
            self._admit(route)
        try:
            msn = _int_param(route, "_HLS_msn")
            part = _int_param(route, "_HLS_part")
        except ValueError:
            return self._count("playlist", objects.error(400, "bad _HLS_msn/_HLS_part"), "local")
        skip = route.param("_HLS_skip")
        dvr = route.param("dvr") in ("1", "true", "yes")
        upstream = self._upstream_for(route.stream_id)
        answer: bytes | int | None
        if upstream is None:
            local = self.sources.local
            answer = 404
            if local is not None:
                answer = await local.media_playlist(
                    route.stream_id, route.rendition, msn, part, skip, dvr
                )
            if answer == 404:
                return self._count("playlist", self._unknown(), "local")
            cache = "local"
        else:
            query = "&".join(f"{k}={v}" for k in _FORWARDED_QUERY if (v := route.param(k)))
            path = f"/live/{route.stream_id}/{route.rendition}/index.m3u8"
            path += f"?{query}" if query else ""
            ttl = BLOCKING_PLAYLIST_TTL if msn is not None else PLAYLIST_TTL
            answer, cache = await _playlist_from(
                upstream.fetch(route.stream_id, path, cache_key=None, ttl=ttl)
            )
        if isinstance(answer, int) or answer is None:
            return self._count("playlist", objects.error(answer or 404), cache)
        return self._count("playlist", objects.playlist(request, answer), cache)

    def _admit(self, route: Route) -> str:
        return self.sessions.admit(route.stream_id, route.param("token"), route.param("session"))

    def _unknown(self) -> Response:
        """404 for a stream this node does not carry; 503 while it has not yet heard
        from the control plane what it carries (just started), so that a downstream
        node fails over instead of passing a false 404 to its viewers."""
        upstream = self.sources.upstream
        if upstream is not None and not upstream.table.received:
            return objects.error(503, "starting: upstreams not known yet")
        return objects.error(404, "unknown stream")

    def _upstream_for(self, stream_id: str) -> Upstream | None:
        upstream = self.sources.upstream
        if upstream is not None and upstream.table.bases(stream_id):
            return upstream
        return None

    # ----------------------------------------------------------------- files

    async def _file(self, request: Request, route: Route) -> Response:
        kind = object_kind(route.name)
        upstream = self._upstream_for(route.stream_id)
        if upstream is None:
            local = self.sources.local
            path = None
            if local is not None:
                path = local.file_path(route.stream_id, route.rendition, route.name)
                if path is None:
                    path = await local.wait_file(route.stream_id, route.rendition, route.name)
            if path is None:
                return self._count(kind, self._unknown(), "local")
            return self._count(kind, _serve_path(request, route.name, path), "local")
        cache = self.sources.cache
        hit = cache.open(route.cache_key) if cache is not None else None
        if hit is not None:
            response = objects.stored_object(
                request,
                route.name,
                size=hit.size,
                etag=hit.etag,
                fd=hit.fd,
                data=hit.data,
                release=hit.release,
            )
            return self._count(kind, response, "hit")
        fill = upstream.fetch(route.stream_id, "/" + route.cache_key, cache_key=route.cache_key)
        await fill.head()
        return self._count(kind, _from_fill(fill, route.name), "miss")

    async def _vod(self, request: Request, route: Route) -> Response:
        root = self.sources.vod_root
        if root is None or not is_name(route.stream_id):
            return self._count("other", objects.error(404), "local")
        path = root.joinpath(route.stream_id, *route.parts)
        kind = object_kind(route.parts[-1])
        upstream, locations = self.sources.vod_upstream, self.sources.vod_locations
        if upstream is None or locations is None or path.is_file():
            # Live stills are replaced every few seconds; everything else under /vod is not.
            lifetime = objects.PLAYLIST_MAX_AGE if route.stream_id == _LIVE_STILLS else None
            response = _serve_path(request, path.name, path, cache_control=lifetime)
            return self._count(kind, response, "local")
        if not await locations.bases(route.stream_id):
            return self._count(kind, objects.error(404, "unknown VOD"), "local")
        # VOD objects never change: cached like segments, under their own key space.
        key = "/".join(("vod", route.stream_id, *route.parts))
        cache = self.sources.cache
        hit = cache.open(key) if cache is not None else None
        if hit is not None:
            response = objects.stored_object(
                request,
                path.name,
                size=hit.size,
                etag=hit.etag,
                fd=hit.fd,
                data=hit.data,
                release=hit.release,
            )
            return self._count(kind, response, "hit")
        fill = upstream.fetch(route.stream_id, "/" + key, cache_key=key)
        await fill.head()
        return self._count(kind, _from_fill(fill, path.name), "miss")


def _int_param(route: Route, key: str) -> int | None:
    value = route.param(key)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise ValueError(key)
    return int(value)


async def _playlist_from(fill: Fill) -> tuple[bytes | int, str]:
    """A playlist fill's body, or the status to answer; and the metrics cache label."""
    cache = "hit" if fill.done else "miss"
    await fill.head()
    if fill.status == 0:
        return 502, cache
    if fill.status != 200:
        return fill.status, cache
    try:
        return await fill.complete(), cache
    except UpstreamBroken:
        return 502, cache


def _from_fill(fill: Fill, name: str) -> Response:
    if fill.status == 0:
        return objects.error(502, "upstream unavailable")
    if fill.status != 200:
        return objects.error(fill.status)
    headers = [
        *objects.CORS,
        (b"content-type", objects.content_type(name)),
        (b"cache-control", objects.IMMUTABLE),
    ]
    return Response(200, headers, fill.reader())


def _serve_path(
    request: Request, name: str, path: Path | None, *, cache_control: bytes | None = None
) -> Response:
    if path is None:
        return objects.error(404)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return objects.error(404)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return objects.error(404)
    return objects.stored_object(
        request,
        name,
        size=st.st_size,
        etag=objects.etag_of(st.st_size, st.st_mtime_ns),
        fd=fd,
        release=lambda: os.close(fd),
        cache_control=cache_control or objects.IMMUTABLE,
    )
