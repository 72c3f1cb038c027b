"""The fleet CA and the signed tokens: what they accept and what they refuse."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from shared import pki
from shared.tokens import InvalidToken, TokenSigner, TokenVerifier


def test_ca_persists_and_signs_node_csrs(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    again = pki.CertificateAuthority.load_or_create(tmp_path)
    assert again.certificate_pem == ca.certificate_pem
    key = pki.generate_private_key()
    issued = ca.sign_node_csr(pki.load_csr(pki.make_csr(key, "edge-west")), "edge-west")
    cert = pki.load_certificate(issued.certificate_pem)
    assert pki.common_name(cert.subject) == "edge-west"
    assert pki.fingerprint(cert) == issued.fingerprint
    cert.verify_directly_issued_by(ca.certificate)


def test_csr_for_another_name_is_refused(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    csr = pki.load_csr(pki.make_csr(pki.generate_private_key(), "shield-east"))
    with pytest.raises(pki.PkiError, match="shield-east"):
        ca.sign_node_csr(csr, "edge-west")


@pytest.mark.parametrize(
    "blob", [b"", b"garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", b"x" * 20000]
)
def test_malformed_csrs_are_pki_errors(blob: bytes) -> None:
    with pytest.raises(pki.PkiError):
        pki.load_csr(blob)


def test_server_certificate_names(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    _key, issued = ca.issue_server_certificate(["127.0.0.1", "cp.example"])
    cert = pki.load_certificate(issued.certificate_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert pki.CONTROL_PLANE_TLS_NAME in names.get_values_for_type(x509.DNSName)
    assert "cp.example" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_tokens_verify_and_refuse(tmp_path: Path) -> None:
    signer = TokenSigner.load_or_create(tmp_path / "signing.key")
    verifier = TokenVerifier.from_pem(signer.public_key_pem)
    token = signer.sign("viewer", 60, now=1000.0, stream_id="st_1")
    assert verifier.verify(token, "viewer", now=1010.0)["stream_id"] == "st_1"
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token, "viewer", now=2000.0)
    with pytest.raises(InvalidToken, match="not 'chat'"):
        verifier.verify(token, "chat", now=1010.0)
    body, _, sig = token.partition(".")
    forged = signer.sign("viewer", 60, now=1000.0, stream_id="st_2").partition(".")[0]
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(f"{forged}.{sig}", "viewer", now=1010.0)
    other = TokenSigner.load_or_create(tmp_path / "other.key")
    with pytest.raises(InvalidToken):
        other.verifier().verify(token, "viewer", now=1010.0)
    for junk in ["", ".", "a.b", "é.é", "x" * 5000, f"{body}.", f"{body}.!!!"]:
        with pytest.raises(InvalidToken):
            verifier.verify(junk, "viewer", now=1010.0)
