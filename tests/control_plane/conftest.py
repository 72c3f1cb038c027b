from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from control_plane.app import create_app
from control_plane.services import Services, build_services
from tests.control_plane.helpers import make_config


@pytest.fixture
def services_and_token(tmp_path: Path) -> Iterator[tuple[Services, str]]:
    services, token = build_services(make_config(tmp_path / "state"))
    try:
        yield services, token
    finally:
        services.close()


@pytest.fixture
def services(services_and_token: tuple[Services, str]) -> Services:
    return services_and_token[0]


@pytest.fixture
def admin(services_and_token: tuple[Services, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {services_and_token[1]}"}


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(services.config, services=services)) as test_client:
        yield test_client
