"""HTTP routes for enrollment and the operator's node actions."""

from __future__ import annotations

import time

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from control_plane import auth
from control_plane.fleet.enrollment import EnrollRequest
from control_plane.fleet.schemas import (
    EnrollBody,
    EnrollmentTokenCreate,
    EnrollmentTokenInfo,
    EnrollmentTokenOut,
    EnrollOut,
    NodeOut,
    node_out,
    token_info,
)
from control_plane.services import ServicesDep
from control_plane.streams.catalog import iso


class EnrollmentTokenController(Controller):
    path = "/api/v1/enrollment-tokens"
    guards = [auth.admin_guard]
    tags = ["fleet"]

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[EnrollmentTokenCreate], services: ServicesDep
    ) -> EnrollmentTokenOut:
        issued = services.enrollment.create_token(
            data.node_name, data.ttl_seconds, data.manual_approval
        )
        return EnrollmentTokenOut(
            id=issued.token.id,
            token=issued.secret,
            expires_at=iso(issued.token.expires_at),
            node_name=issued.token.node_name,
        )

    @get("/")
    async def list_tokens(self, services: ServicesDep) -> list[EnrollmentTokenInfo]:
        now = time.time()
        return [token_info(t, now) for t in services.enrollment.tokens()]


class EnrollController(Controller):
    path = "/api/v1/fleet"
    tags = ["fleet"]

    @post("/enroll", status_code=201)
    async def enroll(self, data: JSONBody[EnrollBody], services: ServicesDep) -> EnrollOut:
        """No bearer: the one-time enrollment token is in the body."""
        done = services.enrollment.enroll(
            EnrollRequest(
                token=data.token,
                name=data.name,
                csr=data.csr,
                roles=tuple(data.roles),
                region=data.region,
                prefixes=tuple(data.prefixes),
            )
        )
        return EnrollOut(
            node_name=done.node_name,
            certificate=done.certificate,
            ca_certificate=done.ca_certificate,
            grpc_address=done.grpc_address,
            tls_name=done.tls_name,
            token_public_key=done.token_public_key,
            status=done.status,
        )


class NodeController(Controller):
    path = "/api/v1/nodes"
    guards = [auth.admin_guard]
    tags = ["fleet"]

    @get("/")
    async def list_nodes(self, services: ServicesDep) -> list[NodeOut]:
        now = time.time()
        return [node_out(n, now) for n in services.fleet.all()]

    @get("/{name:str}")
    async def get_node(self, name: FromPath[str], services: ServicesDep) -> NodeOut:
        return node_out(services.fleet.require(name))

    @post("/{name:str}/approve", status_code=200)
    async def approve(self, name: FromPath[str], services: ServicesDep) -> NodeOut:
        return node_out(services.fleet.approve(name))

    @post("/{name:str}/drain", status_code=200)
    async def drain(self, name: FromPath[str], services: ServicesDep) -> NodeOut:
        return node_out(services.fleet.drain(name))

    @post("/{name:str}/undrain", status_code=200)
    async def undrain(self, name: FromPath[str], services: ServicesDep) -> NodeOut:
        return node_out(services.fleet.undrain(name))

    @post("/{name:str}/revoke", status_code=200)
    async def revoke(self, name: FromPath[str], services: ServicesDep) -> NodeOut:
        node = services.fleet.revoke(name)
        services.publishing.origin_lost(name)
        return node_out(node)


def build(services: ServicesDep) -> list[ControllerRouterHandler]:
    return [EnrollmentTokenController, EnrollController, NodeController]
