"""`glasscast edge enroll`: make the node's key, send a CSR with the token, keep the cert.

The private key is made here and never leaves the node; the control plane only sees
the CSR. A refusal (wrong, reused or expired token; a name taken) is printed as the
control plane worded it, and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from shared import pki
from shared.config import EDGE_CONFIG_PATH, EdgeConfig, load, resolve_path

from .state import Enrollment, new_enrollment

ENROLL_PATH = "/api/v1/fleet/enroll"


class EnrollmentRefused(RuntimeError):
    """The control plane said no; the message is its reason."""


def enroll(
    config: EdgeConfig, control_plane: str, token: str, name: str | None = None
) -> Enrollment:
    """Enroll this node and write its identity into the state directory."""
    node_name = name or config.node.name
    key = pki.generate_private_key()
    body = {
        "token": token,
        "name": node_name,
        "csr": pki.make_csr(key, node_name).decode(),
        "roles": config.node.roles,
        "region": config.node.region,
        "prefixes": config.node.prefixes,
    }
    url = control_plane.rstrip("/") + ENROLL_PATH
    try:
        response = httpx.post(url, json=body, timeout=15.0)
    except httpx.HTTPError as exc:
        raise EnrollmentRefused(
            f"cannot reach the control plane at {control_plane}: {exc}"
        ) from None
    if response.status_code != 201:
        raise EnrollmentRefused(f"enrollment refused ({response.status_code}): {_detail(response)}")
    answer = response.json()
    enrollment = new_enrollment(
        node_name=answer["node_name"],
        control_plane_url=control_plane,
        grpc_address=answer["grpc_address"],
        tls_name=answer["tls_name"],
        token_public_key=answer["token_public_key"],
    )
    enrollment.save(
        config.state_dir,
        key_pem=pki.private_key_pem(key),
        cert_pem=answer["certificate"].encode(),
        ca_pem=answer["ca_certificate"].encode(),
    )
    return enrollment


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.text[:200] or response.reason_phrase)


def run_enroll(control_plane: str, token: str, config_path: Path | None, name: str | None) -> int:
    config = load(EdgeConfig, resolve_path(config_path, EDGE_CONFIG_PATH))
    try:
        enrollment = enroll(config, control_plane, token, name)
    except EnrollmentRefused as exc:
        print(f"glasscast: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"glasscast: cannot write the node identity: {exc}", file=sys.stderr)
        return 1
    print(
        f"enrolled {enrollment.node_name} with {enrollment.control_plane_url}; "
        f"identity in {config.state_dir}. Start the node: glasscast edge"
    )
    return 0
