"""The ABR ladder at the origin: source events in, encoded renditions out.

Node side (trio): `worker.TranscodeWorker` runs one stream's worker process and
restarts it; `encoders.probe_encoders` / `choose_h264` pick NVENC or libx264 at start.
Worker side (threads, no trio): `child` is the process entry point, `pipeline.Pipeline`
the ladder, `video` and `audio` its tracks. A source in H.264, HEVC or AV1 is decoded
once (`video.VideoDecoder`); the ladder is always H.264, and only the passthrough
rendition keeps the source codec. Pure helpers: `timeline` (clocks, segment
grid, lag), `avc` (Annex B / AVCC), `framing` (the pipe's wire format).
The ladder plan itself is `edge_node.transcode.ladder`.
"""
