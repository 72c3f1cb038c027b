"""HTTP routes for enrollment and the operator's node actions."""

from __future__ import annotations

import time

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from control_plane import auth
from control_plane.fleet.enrollment import EnrollmentService, EnrollRequest
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
from control_plane.fleet.service import FleetService
from control_plane.streams.publishing import PublishService
from control_plane.timestamps import iso

# What these routes are given (fleet/providers.py provides them by these names).
EnrollmentDep = NamedDependency[EnrollmentService]
FleetDep = NamedDependency[FleetService]
PublishingDep = NamedDependency[PublishService]


class EnrollmentTokenController(Controller):
    path = "/api/v1/enrollment-tokens"
    guards = [auth.admin_guard]
    tags = ["fleet"]

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[EnrollmentTokenCreate], enrollment: EnrollmentDep
    ) -> EnrollmentTokenOut:
        issued = enrollment.create_token(data.node_name, data.ttl_seconds, data.manual_approval)
        return EnrollmentTokenOut(
            id=issued.token.id,
            token=issued.secret,
            expires_at=iso(issued.token.expires_at),
            node_name=issued.token.node_name,
        )

    @get("/")
    async def list_tokens(self, enrollment: EnrollmentDep) -> list[EnrollmentTokenInfo]:
        now = time.time()
        return [token_info(t, now) for t in enrollment.tokens()]


class EnrollController(Controller):
    path = "/api/v1/fleet"
    tags = ["fleet"]

    @post("/enroll", status_code=201)
    async def enroll(self, data: JSONBody[EnrollBody], enrollment: EnrollmentDep) -> EnrollOut:
        """No bearer: the one-time enrollment token is in the body."""
        done = enrollment.enroll(
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
    async def list_nodes(self, fleet: FleetDep) -> list[NodeOut]:
        now = time.time()
        return [node_out(n, now) for n in fleet.all()]

    @get("/{name:str}")
    async def get_node(self, name: FromPath[str], fleet: FleetDep) -> NodeOut:
        return node_out(fleet.require(name))

    @post("/{name:str}/approve", status_code=200)
    async def approve(self, name: FromPath[str], fleet: FleetDep) -> NodeOut:
        return node_out(fleet.approve(name))

    @post("/{name:str}/drain", status_code=200)
    async def drain(self, name: FromPath[str], fleet: FleetDep) -> NodeOut:
        return node_out(fleet.drain(name))

    @post("/{name:str}/undrain", status_code=200)
    async def undrain(self, name: FromPath[str], fleet: FleetDep) -> NodeOut:
        return node_out(fleet.undrain(name))

    @post("/{name:str}/revoke", status_code=200)
    async def revoke(
        self, name: FromPath[str], fleet: FleetDep, publishing: PublishingDep
    ) -> NodeOut:
        node = fleet.revoke(name)
        publishing.origin_lost(name)
        return node_out(node)
