"""Whatever arrives at the unauthenticated enrollment endpoint gets a JSON 4xx and
records nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from control_plane.app import create_app
from control_plane.services import Services, build_services
from tests.control_plane.helpers import make_config

Client = TestClient  # type: ignore[type-arg]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "token": json_values,
        "name": st.text(max_size=70) | json_values,
        "csr": st.text(max_size=300) | json_values,
        "roles": st.lists(st.sampled_from(["ingest", "edge", "x"]), max_size=3) | json_values,
        "region": st.text(max_size=70),
        "prefixes": st.lists(st.text(max_size=20), max_size=3),
    },
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Services]]:
    services, _ = build_services(make_config(Path(tmp_path_factory.mktemp("fuzz"))))
    try:
        with TestClient(create_app(services.config, services=services)) as client:
            yield client, services
    finally:
        services.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies | json_values, raw=st.none() | st.binary(max_size=200))
def test_random_enrollment_requests_are_refused_cleanly(
    env: tuple[Client, Services], body: object, raw: bytes | None
) -> None:
    client, services = env
    content = raw if raw is not None else json.dumps(body).encode()
    response = client.post(
        "/api/v1/fleet/enroll", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 403, 422), response.text
    assert response.json()["status_code"] == response.status_code
    assert services.db.execute("SELECT count(*) FROM nodes").fetchone()[0] == 0
