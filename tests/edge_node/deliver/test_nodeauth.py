"""Node assertions: signed with the enrolled key, checked against the fleet CA."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_node.deliver.nodeauth import NodeAuthError, NodeSigner, NodeVerifier
from shared.pki import CertificateAuthority, generate_private_key, load_csr, make_csr


def enrolled(ca: CertificateAuthority, name: str) -> NodeSigner:
    key = generate_private_key()
    issued = ca.sign_node_csr(load_csr(make_csr(key, name)), name)
    return NodeSigner(name, key, issued.certificate_pem)


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "ca")


def test_valid_assertion_names_the_node(ca: CertificateAuthority) -> None:
    signer = enrolled(ca, "edge-west")
    name, value = signer.header()
    assert name == "glasscast-node"
    verifier = NodeVerifier(ca.certificate)
    assert verifier.verify(value) == "edge-west"
    assert verifier.verify(value.encode()) == "edge-west"  # the cached path
    assert signer.header()[1] == value  # reused, not re-signed per request


def test_other_fleet_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    stranger = enrolled(CertificateAuthority.load_or_create(tmp_path / "other"), "edge-west")
    with pytest.raises(NodeAuthError):
        NodeVerifier(ca.certificate).verify(stranger.header()[1])


def test_tampered_and_malformed_refused(ca: CertificateAuthority) -> None:
    value = enrolled(ca, "edge-west").header()[1]
    cert, payload, sig = value.split(".")
    verifier = NodeVerifier(ca.certificate)
    other_payload = enrolled(ca, "edge-east").header()[1].split(".")[1]
    for bad in (
        f"{cert}.{other_payload}.{sig}",
        f"{cert}.{payload}.{sig[:-4]}AAAA",
        f"{cert[:50]}.{payload}.{sig}",
        "a.b",
        "!!.!!.!!",
        "x" * 10_000,
    ):
        with pytest.raises(NodeAuthError):
            verifier.verify(bad)


def test_expired_assertion_refused(ca: CertificateAuthority) -> None:
    value = enrolled(ca, "edge-west").header(now=time.time() - 3600)[1]
    with pytest.raises(NodeAuthError, match="expired"):
        NodeVerifier(ca.certificate).verify(value)


def test_assertion_for_another_name_than_the_certificate(ca: CertificateAuthority) -> None:
    key = generate_private_key()
    issued = ca.sign_node_csr(load_csr(make_csr(key, "edge-west")), "edge-west")
    liar = NodeSigner("shield-east", key, issued.certificate_pem)
    with pytest.raises(NodeAuthError, match="another node"):
        NodeVerifier(ca.certificate).verify(liar.header()[1])
