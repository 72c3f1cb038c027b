from __future__ import annotations

from litestar.testing import TestClient


def test_healthz(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
