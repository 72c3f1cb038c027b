"""Turn-up check names that both sides of the fleet protocol act on.

A node reports its checks by name (`TurnupCheck`); the control plane keeps a node
`pending` while any of them fails, except those named here: they degrade a node
that still answers every request right, and it keeps taking viewers as `degraded`.
"""

from __future__ import annotations

# The segment cache is refusing writes for lack of disk space: objects go out
# uncached (more upstream traffic, same answers).
CACHE_SPACE = "cache_space"

DEGRADING = frozenset({CACHE_SPACE})
