from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from control_plane.services import Services
from shared import pki
from shared.tokens import TokenVerifier
from tests.control_plane.helpers import enroll_body

Client = TestClient  # type: ignore[type-arg]


def token(client: Client, admin: dict[str, str], **body: Any) -> str:
    response = client.post("/api/v1/enrollment-tokens", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id", "token", "expires_at", "node_name"}
    return str(response.json()["token"])


def counts(services: Services) -> tuple[int, int]:
    nodes = services.db.execute("SELECT count(*) FROM nodes").fetchone()[0]
    used = services.db.execute(
        "SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL"
    ).fetchone()[0]
    return nodes, used


def refused(client: Client, body: dict[str, Any], status: int, words: str) -> None:
    response = client.post("/api/v1/fleet/enroll", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_happy_path_returns_everything_a_node_needs(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    key = pki.generate_private_key()
    body = enroll_body(token(client, admin), "n1", key)
    response = client.post("/api/v1/fleet/enroll", json=body)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["node_name"] == "n1" and body["status"] == "pending"
    assert body["tls_name"] == pki.CONTROL_PLANE_TLS_NAME
    assert body["grpc_address"] == services.config.grpc_address
    cert = pki.load_certificate(body["certificate"])
    assert pki.common_name(cert.subject) == "n1"
    assert cert.issuer == pki.load_certificate(body["ca_certificate"]).subject
    signed = services.signer.sign("viewer", 60, stream_id="s")
    assert TokenVerifier.from_pem(body["token_public_key"]).verify(signed, "viewer")["stream_id"]
    nodes = client.get("/api/v1/nodes", headers=admin).json()
    assert [(n["name"], n["status"], n["region"]) for n in nodes] == [("n1", "pending", "east")]
    tokens = client.get("/api/v1/enrollment-tokens", headers=admin).json()
    assert tokens[0]["state"] == "used" and tokens[0]["used_by"] == "n1"
    assert "token" not in tokens[0]


def test_token_secret_is_stored_only_as_hash(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    secret = token(client, admin)
    assert secret not in str(services.db.execute("SELECT * FROM enrollment_tokens").fetchall())


def test_unknown_token_refused_and_nothing_recorded(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    refused(client, enroll_body("enr_nope", "n1"), 403, "unknown enrollment token")
    assert counts(services) == (0, 0)


def test_expired_token_refused(client: Client, admin: dict[str, str], services: Services) -> None:
    secret = token(client, admin, ttl_seconds=1)
    services.db.execute("UPDATE enrollment_tokens SET expires_at = 0")
    refused(client, enroll_body(secret, "n1"), 403, "expired")
    assert counts(services) == (0, 0)


def test_reused_token_refused(client: Client, admin: dict[str, str], services: Services) -> None:
    secret = token(client, admin)
    assert client.post("/api/v1/fleet/enroll", json=enroll_body(secret, "n1")).status_code == 201
    refused(client, enroll_body(secret, "n2"), 403, "already used")
    assert counts(services) == (1, 1)


def test_token_bound_to_another_name_refused(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    secret = token(client, admin, node_name="edge-a")
    refused(client, enroll_body(secret, "edge-b"), 403, "for node 'edge-a'")
    assert counts(services) == (0, 0)


def test_csr_for_another_name_refused(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    body = enroll_body(token(client, admin), "n1")
    body["csr"] = pki.make_csr(pki.generate_private_key(), "someone-else").decode()
    refused(client, body, 400, "someone-else")
    assert counts(services) == (0, 0)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "bad CSR"),
        ("csr", "x" * 20000, "bad CSR"),
        ("roles", ["mixer"], "roles"),
        ("roles", [], "roles"),
        ("prefixes", ["not-a-cidr"], "CIDR"),
        ("name", "Bad Name", "name"),
        ("region", "a b", "region"),
    ],
)
def test_bad_requests_refused(
    client: Client, admin: dict[str, str], services: Services, field: str, value: Any, words: str
) -> None:
    body = enroll_body(token(client, admin), "n1")
    body[field] = value
    refused(client, body, 400, words)
    assert counts(services) == (0, 0)


def test_enrolled_name_conflicts_unless_token_names_it(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    first = client.post("/api/v1/fleet/enroll", json=enroll_body(token(client, admin), "n1"))
    assert first.status_code == 201
    refused(client, enroll_body(token(client, admin), "n1"), 409, "already enrolled")
    assert counts(services) == (1, 1)
    again = client.post(
        "/api/v1/fleet/enroll", json=enroll_body(token(client, admin, node_name="n1"), "n1")
    )
    assert again.status_code == 201
    assert again.json()["certificate"] != first.json()["certificate"]
    assert counts(services) == (1, 2)


def test_revoked_name_can_enroll_again(client: Client, admin: dict[str, str]) -> None:
    first = client.post("/api/v1/fleet/enroll", json=enroll_body(token(client, admin), "n1"))
    assert first.status_code == 201
    assert client.post("/api/v1/nodes/n1/revoke", headers=admin).json()["status"] == "revoked"
    again = client.post("/api/v1/fleet/enroll", json=enroll_body(token(client, admin), "n1"))
    assert again.status_code == 201 and again.json()["status"] == "pending"


def test_token_requests_are_validated(client: Client, admin: dict[str, str]) -> None:
    bad = [{"ttl_seconds": 0}, {"node_name": "Not Valid"}, {"ttl_seconds": "x"}, {"extra": 1}]
    for body in bad:
        response = client.post("/api/v1/enrollment-tokens", json=body, headers=admin)
        assert response.status_code == 400, body
    assert client.post("/api/v1/enrollment-tokens", json={}).status_code == 401


def test_manual_approval_keeps_node_pending_until_approved(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    secret = token(client, admin, manual_approval=True)
    assert client.post("/api/v1/fleet/enroll", json=enroll_body(secret, "n1")).status_code == 201
    node = client.get("/api/v1/nodes/n1", headers=admin).json()
    assert node["approved"] is False
    assert client.post("/api/v1/nodes/n1/approve", headers=admin).json()["approved"] is True
    assert client.post("/api/v1/nodes/nope/approve", headers=admin).status_code == 404
