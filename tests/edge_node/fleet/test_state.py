"""A node's identity on disk: complete or refused with the next step named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_node.fleet.state import CERT_FILE, NodeIdentity, NotEnrolled, new_enrollment
from shared import pki


def _enroll(tmp_path: Path, name: str, cert_for: str) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path / "ca")
    key = pki.generate_private_key()
    issued = ca.sign_node_csr(pki.load_csr(pki.make_csr(key, cert_for)), cert_for)
    new_enrollment(name, "http://cp:8080/", "cp:50051", pki.CONTROL_PLANE_TLS_NAME, "PEM").save(
        tmp_path / "state",
        key_pem=pki.private_key_pem(key),
        cert_pem=issued.certificate_pem,
        ca_pem=ca.certificate_pem,
    )


def test_identity_round_trips(tmp_path: Path) -> None:
    _enroll(tmp_path, "edge-west", "edge-west")
    identity = NodeIdentity.load(tmp_path / "state")
    assert identity.node_name == "edge-west"
    assert identity.enrollment.control_plane_url == "http://cp:8080"


def test_missing_files_say_how_to_enroll(tmp_path: Path) -> None:
    with pytest.raises(NotEnrolled, match="glasscast edge enroll"):
        NodeIdentity.load(tmp_path)
    _enroll(tmp_path, "edge-west", "edge-west")
    (tmp_path / "state" / CERT_FILE).unlink()
    with pytest.raises(NotEnrolled, match=CERT_FILE):
        NodeIdentity.load(tmp_path / "state")


def test_certificate_of_another_node_is_refused(tmp_path: Path) -> None:
    _enroll(tmp_path, "edge-west", "shield-east")
    with pytest.raises(NotEnrolled, match="does not belong"):
        NodeIdentity.load(tmp_path / "state")
