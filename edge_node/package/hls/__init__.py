"""LL-HLS playlists (RFC 8216bis), pure: a per-rendition model, renderers, blocking rules.

- `MediaPlaylist(config)`: begin_segment / add_part / end_segment / end, returning
  `Evicted` files; queries for the windows, positions and measured bandwidth.
- `render_media(pl, skip=, reports=)`, `render_dvr(pl)`, `render_master(variants)`.
- `decide(pl, msn, part) -> Blocking` for `_HLS_msn` / `_HLS_part` requests.
"""

from edge_node.package.hls.blocking import Blocking, decide
from edge_node.package.hls.model import (
    Evicted,
    MediaPlaylist,
    Part,
    PlaylistConfig,
    PlaylistError,
    Segment,
)
from edge_node.package.hls.render import (
    RenditionReport,
    Variant,
    render_dvr,
    render_master,
    render_media,
)

__all__ = [
    "Blocking",
    "Evicted",
    "MediaPlaylist",
    "Part",
    "PlaylistConfig",
    "PlaylistError",
    "RenditionReport",
    "Segment",
    "Variant",
    "decide",
    "render_dvr",
    "render_master",
    "render_media",
]
