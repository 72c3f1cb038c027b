"""The fleet's certificates: the control plane's CA, node keys and CSRs, TLS material.

Nodes hold an ECDSA P-256 key that never leaves them; at enrollment they send a CSR
whose common name is their node name, and the control plane's CA signs it. Every
fleet call afterwards is mutual TLS with that certificate, so the node's identity
is the certificate's common name, never a field a node could write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The name nodes verify the gRPC server certificate against (they dial an address
# and override the TLS target name), so certificates survive address changes.
CONTROL_PLANE_TLS_NAME = "glasscast-control-plane"
NODE_CERT_DAYS = 825
CA_DAYS = 3650


class PkiError(ValueError):
    """A CSR or certificate is malformed or does not say what it must."""


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("expected an ECDSA private key")
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, node_name: str) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(pem: bytes | str) -> x509.CertificateSigningRequest:
    data = pem.encode() if isinstance(pem, str) else pem
    if len(data) > 16 * 1024:
        raise PkiError("CSR too large")
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise PkiError("CSR signature does not verify")
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey):
        raise PkiError("CSR key must be ECDSA")
    return csr


def load_certificate(pem: bytes | str) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate: {exc}") from None


def common_name(subject: x509.Name) -> str:
    attrs = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(attrs) != 1:
        raise PkiError("expected exactly one common name")
    value = attrs[0].value
    return value.decode() if isinstance(value, bytes) else value


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write a secret readable only by its owner, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_pem: bytes
    serial_hex: str
    fingerprint: str
    not_after: dt.datetime


class CertificateAuthority:
    """The control plane's CA: created once in the state directory, then loaded."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self.certificate = certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load_or_create(
        cls, directory: Path, name: str = "Glasscast fleet CA"
    ) -> CertificateAuthority:
        key_path, cert_path = directory / "ca.key", directory / "ca.crt"
        if key_path.exists() and cert_path.exists():
            return cls(
                load_private_key(key_path.read_bytes()), load_certificate(cert_path.read_bytes())
            )
        key = generate_private_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(minutes=5))
            .not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        write_private(key_path, private_key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert)

    def _issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        cn: str,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
        days: int,
    ) -> IssuedCertificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(minutes=5))
            .not_valid_after(_now() + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCertificate(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
            serial_hex=format(cert.serial_number, "x"),
            fingerprint=fingerprint(cert),
            not_after=cert.not_valid_after_utc,
        )

    def sign_node_csr(
        self, csr: x509.CertificateSigningRequest, node_name: str
    ) -> IssuedCertificate:
        """Sign a node's CSR; its common name must be the node's name."""
        if common_name(csr.subject) != node_name:
            raise PkiError(f"CSR is for {common_name(csr.subject)!r}, not {node_name!r}")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise PkiError("CSR key must be ECDSA")
        return self._issue(
            public_key,
            node_name,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            [x509.DNSName(node_name)],
            NODE_CERT_DAYS,
        )

    def issue_server_certificate(self, names: list[str]) -> tuple[bytes, IssuedCertificate]:
        """A fresh key and certificate for the control plane's gRPC server."""
        key = generate_private_key()
        sans: list[x509.GeneralName] = [x509.DNSName(CONTROL_PLANE_TLS_NAME)]
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        issued = self._issue(
            key.public_key(),
            CONTROL_PLANE_TLS_NAME,
            ExtendedKeyUsageOID.SERVER_AUTH,
            sans,
            NODE_CERT_DAYS,
        )
        return private_key_pem(key), issued
