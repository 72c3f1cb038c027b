"""Signed, expiring tokens (Ed25519): viewer sessions, chat identities, node requests.

The control plane signs with its private key; edges verify with the public key they
receive at enrollment, so an edge can check a viewer's token without asking anyone.

A token is ``base64url(payload_json) "." base64url(signature)``; the payload always
carries ``kind`` (what the token is for) and ``exp`` (unix seconds). Verification is
bounded: oversized tokens are refused before any decoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.pki import write_private

MAX_TOKEN_BYTES = 2048


class InvalidToken(ValueError):
    """The token is malformed, forged, expired, or for something else."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("token is not base64url") from None


class TokenSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, path: Path) -> TokenSigner:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} does not hold an Ed25519 key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return cls(key)

    @property
    def public_key_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self._key.public_key())

    def sign(self, kind: str, ttl_seconds: float, now: float | None = None, **claims: Any) -> str:
        issued = time.time() if now is None else now
        payload = {"kind": kind, "iat": int(issued), "exp": int(issued + ttl_seconds), **claims}
        body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64encode(self._key.sign(body.encode('ascii')))}"


class TokenVerifier:
    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._key = public_key

    @classmethod
    def from_pem(cls, pem: bytes | str) -> TokenVerifier:
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("expected an Ed25519 public key")
        return cls(key)

    def verify(self, token: str, kind: str, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or `InvalidToken` saying why not."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too long")
        body, sep, signature = token.partition(".")
        if not sep or not body or not signature:
            raise InvalidToken("token is not body.signature")
        try:
            self._key.verify(_b64decode(signature), body.encode("ascii"))
        except (InvalidSignature, UnicodeEncodeError):
            raise InvalidToken("bad signature") from None
        try:
            claims = json.loads(_b64decode(body))
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken("payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken("payload is not an object")
        if claims.get("kind") != kind:
            raise InvalidToken(f"token is for {claims.get('kind')!r}, not {kind!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < (time.time() if now is None else now):
            raise InvalidToken("token expired")
        return claims
