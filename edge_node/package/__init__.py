"""Packaging at the origin: encoded samples in, CMAF files and LL-HLS playlists out.

- `cmaf/`: ISO BMFF / CMAF writing (pure) and a small bounded reader.
- `hls/`: the LL-HLS playlist model, renderers and blocking-reload rules (pure).
- `segmenter`, `timeline`: one rendition's cuts and fMP4 timeline (pure).
- `packager`: the per-stream trio task writing files and waking blocked readers.
- `registry`: `LiveStreams`, the index the HTTP layer reads (layout documented there).
"""
