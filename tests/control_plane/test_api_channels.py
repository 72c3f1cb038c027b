from __future__ import annotations

import hashlib

import pytest
from litestar.testing import TestClient

from control_plane.services import Services

Client = TestClient  # type: ignore[type-arg]


def create(client: Client, admin: dict[str, str], name: str = "demo") -> dict[str, str]:
    response = client.post(
        "/api/v1/channels", json={"name": name, "title": "Demo", "category": "games"}, headers=admin
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_shows_the_key_once_and_stores_only_its_hash(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    body = create(client, admin)
    key = body["stream_key"]
    assert key.startswith("live_") and len(key) >= 5 + 43
    stored = services.db.execute("SELECT stream_key_hash FROM channels").fetchone()[0]
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(services.db.execute("SELECT * FROM channels").fetchall())
    listed = client.get("/api/v1/channels", headers=admin).json()
    assert [c["name"] for c in listed] == ["demo"] and "stream_key" not in listed[0]
    one = client.get("/api/v1/channels/demo", headers=admin).json()
    assert one["title"] == "Demo" and one["category"] == "games"


def test_taken_name_is_409(client: Client, admin: dict[str, str]) -> None:
    create(client, admin)
    response = client.post("/api/v1/channels", json={"name": "demo"}, headers=admin)
    assert response.status_code == 409
    assert response.json() == {"status_code": 409, "detail": "channel 'demo' already exists"}


@pytest.mark.parametrize("name", ["", "Upper", "has space", "x" * 65, "dot.name", "é"])
def test_bad_names_are_422(client: Client, admin: dict[str, str], name: str) -> None:
    response = client.post("/api/v1/channels", json={"name": name}, headers=admin)
    assert response.status_code == 422
    assert "channel name" in response.json()["detail"]


def test_bad_json_unknown_fields_and_wrong_types_are_400(
    client: Client, admin: dict[str, str]
) -> None:
    headers = {**admin, "content-type": "application/json"}
    for body in (b"{not json", b'{"name": "a", "colour": "red"}', b'{"name": 5}', b"[]"):
        response = client.post("/api/v1/channels", content=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["status_code"] == 400 and response.json()["detail"]


def test_missing_and_wrong_tokens_are_401(client: Client) -> None:
    assert client.post("/api/v1/channels", json={"name": "a"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    response = client.get("/api/v1/channels", headers=wrong)
    assert response.status_code == 401
    assert response.json() == {"status_code": 401, "detail": "invalid admin token"}
    assert client.get("/api/v1/nodes", headers={"Authorization": "Basic x"}).status_code == 401


def test_rotation_invalidates_the_old_key_at_once(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    old = create(client, admin)["stream_key"]
    response = client.post("/api/v1/channels/demo/stream-key", headers=admin)
    assert response.status_code == 200
    new = response.json()["stream_key"]
    assert new != old
    assert services.channels.by_key(old) is None
    assert services.channels.by_key(new) is not None
    assert client.post("/api/v1/channels/nope/stream-key", headers=admin).status_code == 404


def test_unknown_routes_and_channels_are_json_404(client: Client, admin: dict[str, str]) -> None:
    for path in ("/api/v1/channels/nope", "/api/v1/nowhere"):
        response = client.get(path, headers=admin)
        assert response.status_code == 404
        assert response.json()["status_code"] == 404


def test_openapi_schema_is_served(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert "/api/v1/channels" in schema["paths"]
    assert "/api/v1/fleet/enroll" in schema["paths"]


def test_metrics_count_requests(client: Client, admin: dict[str, str]) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'glasscast_api_requests_total{method="GET",status="200"}' in text
    assert "glasscast_nodes" in text
