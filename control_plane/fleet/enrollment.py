"""Enrollment: one-time tokens for operators, certificates for nodes.

A refused enrollment records nothing; an accepted one marks the token used and
creates (or re-provisions) the node in one transaction.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from control_plane import keys
from control_plane.errors import BadRequest, Conflict, Forbidden
from control_plane.events import EventBus
from control_plane.fleet import status as st
from control_plane.fleet.live import LiveFleet
from control_plane.store import enrollment, nodes
from shared import pki
from shared.config import ROLES, ControlPlaneConfig

NODE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
REGION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TTL = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: enrollment.EnrollmentToken
    secret: str


@dataclass(frozen=True, slots=True)
class EnrollRequest:
    token: str
    name: str
    csr: str
    roles: tuple[str, ...]
    region: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enrolled:
    node_name: str
    certificate: str
    ca_certificate: str
    grpc_address: str
    tls_name: str
    token_public_key: str
    status: str


class EnrollmentService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        ca: pki.CertificateAuthority,
        token_public_key: bytes,
        live: LiveFleet,
        events: EventBus,
        config: ControlPlaneConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._ca = ca
        self._token_public_key = token_public_key.decode()
        self._live = live
        self._events = events
        self._config = config
        self._clock = clock

    def create_token(
        self, node_name: str | None, ttl_seconds: int | None, manual_approval: bool | None
    ) -> IssuedToken:
        if node_name is not None and not NODE_NAME.fullmatch(node_name):
            raise BadRequest("node_name must be 1-63 of a-z, 0-9 and '-', starting alphanumeric")
        ttl = self._config.fleet.enrollment_token_ttl if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= MAX_TTL:
            raise BadRequest(f"ttl_seconds must be within 1..{MAX_TTL}")
        approval = (
            self._config.fleet.manual_approval if manual_approval is None else manual_approval
        )
        secret = keys.new_secret("enr_")
        now = self._clock()
        with self._db.conn:
            token = enrollment.insert(
                self._db,
                token_id="et_" + secrets.token_hex(6),
                token_hash=keys.digest(secret),
                node_name=node_name,
                now=now,
                expires_at=now + ttl,
                manual_approval=approval,
            )
        return IssuedToken(token, secret)

    def tokens(self) -> list[enrollment.EnrollmentToken]:
        return enrollment.all_tokens(self._db)

    def _check_token(self, secret: str, name: str, now: float) -> enrollment.EnrollmentToken:
        token = enrollment.by_hash(self._db, keys.digest(secret))
        if token is None:
            raise Forbidden("unknown enrollment token")
        if token.used_at is not None:
            raise Forbidden("enrollment token was already used")
        if token.expires_at < now:
            raise Forbidden("enrollment token has expired")
        if token.node_name is not None and token.node_name != name:
            raise Forbidden(f"enrollment token is for node {token.node_name!r}, not {name!r}")
        return token

    def _check_request(self, request: EnrollRequest) -> None:
        if not NODE_NAME.fullmatch(request.name):
            raise BadRequest("name must be 1-63 of a-z, 0-9 and '-', starting alphanumeric")
        unknown = [r for r in request.roles if r not in ROLES]
        if unknown or not request.roles:
            raise BadRequest(f"roles must be a non-empty list of {', '.join(ROLES)}")
        if not REGION.fullmatch(request.region):
            raise BadRequest("region must be 1-64 of letters, digits, '_', '.', '-'")
        for prefix in request.prefixes:
            try:
                ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise BadRequest(f"prefix {prefix!r} is not a CIDR") from None

    def enroll(self, request: EnrollRequest) -> Enrolled:
        now = self._clock()
        self._check_request(request)
        token = self._check_token(request.token, request.name, now)
        try:
            csr = pki.load_csr(request.csr)
            issued = self._ca.sign_node_csr(csr, request.name)
        except pki.PkiError as exc:
            raise BadRequest(f"bad CSR: {exc}") from None
        existing = nodes.get(self._db, request.name)
        if existing and existing.status != st.REVOKED and token.node_name != request.name:
            raise Conflict(
                f"node {request.name!r} is already enrolled; revoke it or use a token "
                "made for that node name to re-provision it"
            )
        with self._db.conn:
            if not enrollment.mark_used(self._db, token.id, node_name=request.name, now=now):
                raise Forbidden("enrollment token was already used")
            nodes.provision(
                self._db,
                name=request.name,
                roles=list(request.roles),
                region=request.region,
                prefixes=list(request.prefixes),
                cert_serial=issued.serial_hex,
                cert_fingerprint=issued.fingerprint,
                approved=not token.manual_approval,
                now=now,
            )
        # A re-provisioned node's old session must not outlive its old certificate.
        self._live.forget(request.name)
        self._events.publish("node.enrolled", {"node": request.name, "status": st.PENDING})
        return Enrolled(
            node_name=request.name,
            certificate=issued.certificate_pem.decode(),
            ca_certificate=self._ca.certificate_pem.decode(),
            grpc_address=self._config.grpc_address,
            tls_name=pki.CONTROL_PLANE_TLS_NAME,
            token_public_key=self._token_public_key,
            status=st.PENDING,
        )
