"""The pages' HTTP side without a browser: routes, escaping, static files."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from control_plane.app import assemble
from control_plane.web.deps import WebDeps
from control_plane.web.providers import build


def client() -> TestClient[Litestar]:
    channels = {"demo", "<b>"}
    return TestClient(assemble([build(WebDeps(channel_exists=channels.__contains__))]))


def test_watch_page_names_its_channel_escaped() -> None:
    with client() as http:
        page = http.get("/watch/demo")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'data-channel="demo"' in page.text
        assert '<script src="/static/vendor/hls.min.js">' in page.text
        hostile = http.get("/watch/%3Cb%3E")
        assert "<b>" not in hostile.text and "&lt;b&gt;" in hostile.text


def test_unknown_channel_is_404_and_landing_is_served() -> None:
    with client() as http:
        assert http.get("/watch/nope").status_code == 404
        landing = http.get("/")
        assert landing.status_code == 200 and "/static/landing.js" in landing.text


def test_static_files_are_served_from_the_package() -> None:
    with client() as http:
        for name in ("player.js", "chat.js", "landing.js", "style.css"):
            response = http.get(f"/static/{name}")
            assert response.status_code == 200 and len(response.content) > 100
        assert "lowLatencyMode: true" in http.get("/static/player.js").text
        assert http.get("/static/../routes.py").status_code == 404
