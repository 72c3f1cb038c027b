"""What chat needs from the rest of the control plane, as one small typed container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from shared.config import ChatSection
from shared.tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class ChatDeps:
    config: ChatSection
    signer: TokenSigner
    db: sqlite_utils.Database
    # bearer token -> is it an operator's API token
    is_operator: Callable[[str], bool]
    channel_exists: Callable[[str], bool]
    # (channel, bearer token) -> is the token that channel's stream key
    is_broadcaster: Callable[[str, str], bool]
    # channel -> unix time the live stream started, or None when offline
    stream_started_at: Callable[[str], float | None]
