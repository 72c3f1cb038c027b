"""CMAF (fragmented MP4) writing: pure functions from track descriptions and samples to bytes.

- `init_segment(tracks)`: ftyp + moov (avc1/avcC, hvc1/hvcC or av01/av1C; mp4a/esds; edit
  lists for priming; mvex).
- `segment_type()`: the styp that opens a media segment.
- `chunk(sequence_number, runs)`: one moof + mdat (an LL-HLS part).
- `progressive`: fragments back to one progressive, faststart MP4 (the VOD download).
- `avc_codec_string`, `track_codec_string`, `aac_codec_string`, `parse_asc`: RFC 6381
  strings and ASC fields.
"""

from edge_node.codecs import AacConfig, aac_codec_string, avc_codec_string, parse_asc
from edge_node.package.cmaf.fragment import Sample, TrackRun, chunk, segment_type
from edge_node.package.cmaf.init import Track, init_segment, track_codec_string

__all__ = [
    "AacConfig",
    "Sample",
    "Track",
    "TrackRun",
    "aac_codec_string",
    "avc_codec_string",
    "chunk",
    "init_segment",
    "parse_asc",
    "segment_type",
    "track_codec_string",
]
