"""The viewer-facing pages: the landing page, the watch pages and their static files.

    /                      live channels, then recent broadcasts (VODs)
    /watch/{channel}       the live page: LL-HLS, chat, the channel's past broadcasts
    /watch/vod/{vod_id}    a recording: hls.js in VOD mode from the edge that
                           `GET /api/v1/vods/{id}/play` names (`?edge=NAME` on the page
                           asks for that edge instead), seek bar with sprite thumbnails
                           from the WebVTT track, chat replayed at the playhead

Pages are plain HTML with a little vanilla JS; hls.js is vendored into
``static/vendor/`` by the set-up step (npm ci + copy), never fetched from a CDN.
The VOD page is served for any id: whether the recording exists is the API's
answer, which the page shows.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from litestar import Controller, MediaType, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

from control_plane.web.deps import WebDeps

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


@cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render_watch(channel: str) -> str:
    safe = html.escape(channel, quote=True)
    return _template("watch.html").replace("{channel}", safe).replace("{title}", safe)


def render_vod(vod_id: str) -> str:
    return _template("vod.html").replace("{vod_id}", html.escape(vod_id, quote=True))


class PageController(Controller):
    path = "/"
    include_in_schema = False

    @get("/", media_type=MediaType.HTML, sync_to_thread=False)
    def landing(self) -> str:
        return _template("index.html")

    @get("/watch/{channel:str}", media_type=MediaType.HTML, sync_to_thread=False)
    def watch(self, channel: FromPath[str], web: NamedDependency[WebDeps]) -> Response[str]:
        if not web.channel_exists(channel):
            body = f"<!doctype html><title>Not found</title><p>No channel {html.escape(channel)}."
            return Response(body, status_code=404, media_type=MediaType.HTML)
        return Response(render_watch(channel), media_type=MediaType.HTML)

    @get("/watch/vod/{vod_id:str}", media_type=MediaType.HTML, sync_to_thread=False)
    def watch_vod(self, vod_id: FromPath[str]) -> str:
        return render_vod(vod_id)


def static_files() -> Router:
    return create_static_files_router(
        path="/static",
        directories=[STATIC],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=300),
    )
