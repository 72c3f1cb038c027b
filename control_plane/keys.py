"""Secrets the control plane hands out once and keeps only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from shared.pki import write_private

SECRET_BYTES = 32


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def matches(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)


def load_or_create_admin_token(path: Path) -> str:
    """The operator's bearer token: made on first start, readable only by its owner."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = new_secret("gca_")
    write_private(path, (token + "\n").encode())
    return token
