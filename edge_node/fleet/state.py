"""What a node keeps from its enrollment, in its state directory.

    <state_dir>/node.key         the node's private key (0600, never leaves the box)
    <state_dir>/node.crt         its certificate, signed by the fleet CA
    <state_dir>/ca.crt           the fleet CA, to verify the control plane and peers
    <state_dir>/enrollment.json  where the control plane is, and its viewer-token key

The systemd unit starts the node only when node.crt exists, so "enrolled" is exactly
"these files are present and consistent".
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from shared import pki

KEY_FILE = "node.key"
CERT_FILE = "node.crt"
CA_FILE = "ca.crt"
ENROLLMENT_FILE = "enrollment.json"


class NotEnrolled(RuntimeError):
    """The node has no (complete) enrollment in its state directory."""


@dataclass(frozen=True)
class Enrollment:
    node_name: str
    control_plane_url: str
    grpc_address: str
    tls_name: str
    token_public_key: str  # PEM: verifies viewer session tokens offline
    enrolled_at: float

    def save(self, state_dir: Path, *, key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        pki.write_private(state_dir / KEY_FILE, key_pem)
        (state_dir / CA_FILE).write_bytes(ca_pem)
        (state_dir / ENROLLMENT_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")
        # The certificate last: its presence is what marks the node as enrolled.
        (state_dir / CERT_FILE).write_bytes(cert_pem)


@dataclass(frozen=True)
class NodeIdentity:
    """The enrollment plus the TLS material, loaded and checked."""

    enrollment: Enrollment
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes

    @classmethod
    def load(cls, state_dir: Path) -> NodeIdentity:
        paths = [state_dir / f for f in (KEY_FILE, CERT_FILE, CA_FILE, ENROLLMENT_FILE)]
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise NotEnrolled(
                f"this node is not enrolled (missing {', '.join(missing)} in {state_dir}); "
                "run: glasscast edge enroll --control-plane URL --token TOKEN"
            )
        try:
            enrollment = Enrollment(**json.loads((state_dir / ENROLLMENT_FILE).read_text()))
        except (ValueError, TypeError) as exc:
            raise NotEnrolled(f"{state_dir / ENROLLMENT_FILE} is damaged: {exc}") from None
        identity = cls(
            enrollment=enrollment,
            key_pem=(state_dir / KEY_FILE).read_bytes(),
            cert_pem=(state_dir / CERT_FILE).read_bytes(),
            ca_pem=(state_dir / CA_FILE).read_bytes(),
        )
        cert = pki.load_certificate(identity.cert_pem)
        if pki.common_name(cert.subject) != enrollment.node_name:
            raise NotEnrolled("node.crt does not belong to the enrolled node name")
        return identity

    @property
    def node_name(self) -> str:
        return self.enrollment.node_name


def new_enrollment(
    node_name: str, control_plane_url: str, grpc_address: str, tls_name: str, token_public_key: str
) -> Enrollment:
    return Enrollment(
        node_name=node_name,
        control_plane_url=control_plane_url.rstrip("/"),
        grpc_address=grpc_address,
        tls_name=tls_name,
        token_public_key=token_public_key,
        enrolled_at=time.time(),
    )
