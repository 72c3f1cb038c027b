"""Node-to-node request authentication: an assertion signed with the node's enrolled key.

The header carries the node certificate (DER), a short-lived payload and an ECDSA
signature over it: ``b64(cert) "." b64(payload) "." b64(signature)``. A receiving node
checks the certificate against the fleet CA (once per certificate: verified ones are
cached by fingerprint) and the signature against its key. An assertion is reused for
a while by its signer, so verifying a repeat costs one dictionary lookup.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.pki import PkiError, common_name

HEADER = "glasscast-node"
HEADER_BYTES = HEADER.encode()
_LIFETIME = 120
_REUSE = 60
_MAX_HEADER = 4096
_CACHE_MAX = 4096


class NodeAuthError(ValueError):
    """The node assertion is missing, malformed, forged, expired or not from the fleet."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise NodeAuthError("not base64url") from None


class NodeSigner:
    """Makes this node's assertion header (reused until it is half-way to expiry)."""

    def __init__(self, node_name: str, key: ec.EllipticCurvePrivateKey, cert_pem: bytes) -> None:
        self._node = node_name
        self._key = key
        cert = x509.load_pem_x509_certificate(cert_pem)
        self._cert = _b64(cert.public_bytes(serialization.Encoding.DER))
        self._value = ""
        self._renew_at = 0.0

    def header(self, now: float | None = None) -> tuple[str, str]:
        t = time.time() if now is None else now
        if t >= self._renew_at:
            payload = json.dumps({"node": self._node, "exp": int(t) + _LIFETIME}).encode()
            signature = self._key.sign(payload, ec.ECDSA(hashes.SHA256()))
            self._value = f"{self._cert}.{_b64(payload)}.{_b64(signature)}"
            self._renew_at = t + _REUSE
        return HEADER, self._value


@dataclass(frozen=True, slots=True)
class _Known:
    node: str
    key: ec.EllipticCurvePublicKey
    not_after: float


class NodeVerifier:
    """Checks assertions against the fleet CA given at construction."""

    def __init__(self, ca_cert: x509.Certificate) -> None:
        self._ca = ca_cert
        self._ca_key = ca_cert.public_key()
        self._certs: dict[str, _Known] = {}
        self._assertions: dict[str, tuple[str, int]] = {}

    def verify(self, value: bytes | str, now: float | None = None) -> str:
        """The asserting node's name, or `NodeAuthError`."""
        t = time.time() if now is None else now
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        seen = self._assertions.get(text)
        if seen is not None and seen[1] >= t:
            return seen[0]
        if len(text) > _MAX_HEADER:
            raise NodeAuthError("assertion too long")
        parts = text.split(".")
        if len(parts) != 3:
            raise NodeAuthError("assertion is not cert.payload.signature")
        known = self._certificate(_unb64(parts[0]), t)
        payload = _unb64(parts[1])
        try:
            known.key.verify(_unb64(parts[2]), payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise NodeAuthError("bad signature") from None
        try:
            claims = json.loads(payload)
        except ValueError:
            raise NodeAuthError("payload is not JSON") from None
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if not isinstance(exp, int) or exp < t:
            raise NodeAuthError("assertion expired")
        if claims.get("node") != known.node:
            raise NodeAuthError("assertion names another node than its certificate")
        if len(self._assertions) >= _CACHE_MAX:
            self._assertions.clear()
        self._assertions[text] = (known.node, exp)
        return known.node

    def _certificate(self, der: bytes, now: float) -> _Known:
        fp = hashlib.sha256(der).hexdigest()
        known = self._certs.get(fp)
        if known is None:
            known = self._verify_certificate(der)
            if len(self._certs) >= _CACHE_MAX:
                self._certs.clear()
            self._certs[fp] = known
        if known.not_after < now:
            raise NodeAuthError("certificate expired")
        return known

    def _verify_certificate(self, der: bytes) -> _Known:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise NodeAuthError("not a certificate") from None
        if cert.issuer != self._ca.subject:
            raise NodeAuthError("certificate not issued by the fleet CA")
        algorithm = cert.signature_hash_algorithm
        if not isinstance(self._ca_key, ec.EllipticCurvePublicKey) or algorithm is None:
            raise NodeAuthError("unsupported certificate signature")
        try:
            self._ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        except InvalidSignature:
            raise NodeAuthError("certificate signature does not verify") from None
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise NodeAuthError("node key must be ECDSA")
        now = dt.datetime.now(dt.UTC)
        if cert.not_valid_before_utc > now:
            raise NodeAuthError("certificate not yet valid")
        try:
            node = common_name(cert.subject)
        except PkiError as exc:
            raise NodeAuthError(str(exc)) from None
        return _Known(node, key, cert.not_valid_after_utc.timestamp())
