from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from control_plane.app import create_app
from control_plane.clients import RateLimiter, client_address, parse_networks
from tests.control_plane.helpers import make_config

PROXIES = parse_networks(["10.0.0.0/8", "::1/128"])


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"
    assert client_address("10.0.0.1", "1.2.3.4", PROXIES) == "1.2.3.4"
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", PROXIES) == "1.2.3.4"
    assert client_address("10.0.0.1", "10.0.0.3", PROXIES) == "10.0.0.3"
    assert client_address("10.0.0.1", " , ", PROXIES) == "10.0.0.1"


@settings(max_examples=300, deadline=None)
@given(peer=st.text(max_size=50), header=st.none() | st.text(max_size=400))
def test_forwarded_for_parsing_never_fails(peer: str, header: str | None) -> None:
    result = client_address(peer, header, PROXIES)
    assert result == peer or (header is not None and result in header)


def test_rate_limiter_windows_and_bounded_memory() -> None:
    limiter = RateLimiter(limit=2, window=60.0, max_keys=3)
    assert limiter.retry_after("a", 0.0) is None
    assert limiter.retry_after("a", 1.0) is None
    assert limiter.retry_after("a", 2.0) == 58.0
    assert limiter.retry_after("a", 61.0) is None
    for i in range(10):
        limiter.retry_after(f"k{i}", 0.0)
    assert len(limiter._windows) == 3


def test_play_is_rate_limited_with_retry_after(tmp_path: Path) -> None:
    # create_app builds and closes its own services when given only a config.
    app = create_app(make_config(tmp_path, routing={"play_rate_per_minute": 2}))
    with TestClient(app) as client:
        codes = [client.get("/play/nope.m3u8").status_code for _ in range(3)]
        assert codes == [404, 404, 429]
        response = client.get("/play/nope.m3u8")
        assert response.json()["status_code"] == 429
        assert 1 <= int(response.headers["retry-after"]) <= 60
