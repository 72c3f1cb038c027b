"""The video side of the ladder: one decoder, one thread per encoded rendition, passthrough.

Each rendition thread owns its `VideoReformatter` and encoder: PyAV's reformatter is
not safe to share (it segfaults), and PyAV drops the GIL while scaling and encoding,
so the threads run in parallel. The decoder's frames are shared read-only; what the
encoders need per frame (pts, forced keyframe) is set once by the decoding thread
before the frame is handed out, so no thread writes to a shared frame.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import av.codec
from av.video.frame import PictureType
from av.video.reformatter import Interpolation, VideoReformatter

from edge_node.media import EncodedEvent, RenditionStart, RenditionStop, TrackInfo
from edge_node.transcode.avc import annexb_to_avcc, avcc_config_from_annexb
from edge_node.transcode.encoders import VIDEO_TIMEBASE, open_live_encoder
from edge_node.transcode.ladder import RenditionPlan, codec_string_from_avcc
from edge_node.transcode.timeline import FramePacer, SampleHolder
from shared.config import TranscodeSection

log = logging.getLogger(__name__)

Emit = Callable[[EncodedEvent], None]

MS_TIMEBASE = Fraction(1, 1000)
# ffmpeg's scale filter default, so quality compares with the CLI like for like.
SCALER = Interpolation.BICUBIC


@dataclass(frozen=True, slots=True)
class FrameJob:
    frame: av.VideoFrame
    pts: int  # 90 kHz on the continuous output clock
    boundary: bool  # a segment starts here: every rendition makes it an IDR
    index: int  # the decoded picture's number, to find its scaled copies by


class ScaledFrames:
    """The pictures one rendition scaled lately, for the next smaller one to scale from.

    Scaling cost follows the pixels read: 360p from 480p reads less than half of what
    360p from the 720p source does. The reader waits until the writer has dealt with
    the job; a picture the writer skipped, no longer holds, or never will (it stopped:
    shed or failed) is scaled from the decoded source instead.
    """

    def __init__(self, keep: int) -> None:
        self._frames: deque[tuple[int, av.VideoFrame]] = deque(maxlen=keep)
        self._done = -1  # the highest job index the writer has dealt with
        self._stopped = False
        self._changed = threading.Condition()

    def publish(self, index: int, frame: av.VideoFrame | None) -> None:
        """The writer is done with job `index`: here is its picture, or None (skipped)."""
        with self._changed:
            if frame is not None:
                self._frames.append((index, frame))
            self._done = index
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def take(self, index: int) -> av.VideoFrame | None:
        with self._changed:
            self._changed.wait_for(lambda: self._done >= index or self._stopped)
            for held, frame in self._frames:
                if held == index:
                    return frame
        return None


# The media path's codec name -> the FFmpeg decoder. FFmpeg's native "av1" decoder only
# drives hardware; dav1d is its software AV1 decoder (and the fastest there is).
DECODERS = {"h264": "h264", "hevc": "hevc", "av1": "libdav1d"}


class VideoDecoder:
    """Decodes the source's frames with its decoder configuration record as extradata
    (avcC, hvcC or av1C: FFmpeg reads each); errors drop the packet."""

    def __init__(self, codec: str, extradata: bytes) -> None:
        decoder = DECODERS[codec]
        self._ctx = cast(av.VideoCodecContext, av.codec.CodecContext.create(decoder, "r"))
        self._ctx.extradata = extradata
        # One thread: frame threads cost ~10% more CPU and a frame of delay, and the
        # rendition threads already keep every core busy while the feeder decodes.
        self._ctx.thread_count = 1
        self.errors = 0

    @property
    def fps(self) -> float:
        rate = self._ctx.framerate
        return float(rate) if rate else 0.0

    def decode(self, data: bytes, dts: int, pts: int, keyframe: bool) -> list[av.VideoFrame]:
        packet = av.Packet(data)
        packet.dts, packet.pts, packet.time_base = dts, pts, MS_TIMEBASE
        packet.is_keyframe = keyframe
        try:
            return self._ctx.decode(packet)
        except av.FFmpegError as exc:
            # Corrupt NAL units: the decoder conceals what it can from the next ones.
            self.errors += 1
            log.debug("undecodable video packet at %d ms: %s", pts, exc)
            return []

    def flush(self) -> list[av.VideoFrame]:
        try:
            return self._ctx.decode(None)
        except av.FFmpegError:
            return []


class RenditionEncoder:
    """A thread that scales and encodes one rendition from a bounded queue of frames."""

    def __init__(
        self,
        plan: RenditionPlan,
        *,
        encoder: str,
        settings: TranscodeSection,
        audio: TrackInfo | None,
        emit: Emit,
        upstream: ScaledFrames | None = None,
        queue_size: int = 8,
        pace: bool = True,
    ) -> None:
        self.plan = plan
        self._encoder_name = encoder
        self._settings = settings
        self._audio = audio
        self._emit = emit
        self._upstream = upstream
        self._pace = pace
        self._queue: queue.Queue[FrameJob | None] = queue.Queue(maxsize=queue_size)
        # A reader lags this thread by at most its own queue plus the job in hand.
        self.scaled = ScaledFrames(keep=queue_size + 2)
        self._thread = threading.Thread(target=self._run, name=f"encode-{plan.name}", daemon=True)
        self.done_pts: int | None = None  # the last frame encoded, for the lag measure
        self.failure = ""

    def start(self) -> None:
        self._thread.start()

    @property
    def idle(self) -> bool:
        return self._queue.empty()

    def submit(self, job: FrameJob) -> None:
        """Queue a frame; blocks while the queue is full (back-pressure to the decoder)."""
        while self._thread.is_alive():
            try:
                self._queue.put(job, timeout=0.25)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Drain the queue, flush the encoder, emit what remains, and join the thread."""
        if self._thread.is_alive():
            self.submit_end()
        self._thread.join()

    def submit_end(self) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.25)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            self._encode_all()
        except Exception as exc:  # an encoder failure ends this rendition, not the stream
            self.failure = f"encoder failed: {exc}"
            log.exception("rendition %s: encoder failed", self.plan.name)
            self._emit(RenditionStop(self.plan.name, self.failure))
        finally:
            self.scaled.stop()

    def _encode_all(self) -> None:
        plan = self.plan
        self._encoder_name, ctx = open_live_encoder(self._encoder_name, plan, self._settings)
        avcc = avcc_config_from_annexb(bytes(ctx.extradata or b""))
        self._emit(RenditionStart(plan.name, self._track(avcc), self._audio))
        reformatter = VideoReformatter()
        pacer = FramePacer(plan.fps if self._pace else 0.0)
        holder = SampleHolder(plan.name, "video", round(90_000 / (plan.fps or 30.0)))
        while (job := self._queue.get()) is not None:
            if not pacer.keep(job.pts, job.boundary):
                self.scaled.publish(job.index, None)
                continue
            larger = self._upstream.take(job.index) if self._upstream is not None else None
            source = larger if larger is not None else job.frame
            frame = reformatter.reformat(
                source,
                width=plan.width,
                height=plan.height,
                format="yuv420p",
                interpolation=SCALER,
                threads=1,
            )
            if frame is not source:
                frame.pts, frame.time_base = job.pts, VIDEO_TIMEBASE
                # x264 keeps a decoded frame's picture type: NONE lets it choose,
                # I at a segment start forces the aligned IDR.
                frame.pict_type = PictureType.I if job.boundary else PictureType.NONE
            # Published before encoding, so the smaller rendition scales meanwhile.
            self.scaled.publish(job.index, frame)
            self._write(ctx.encode(frame), holder)
            self.done_pts = job.pts
        self._write(ctx.encode(None), holder)
        if (last := holder.flush()) is not None:
            self._emit(last)

    def _write(self, packets: list[av.Packet], holder: SampleHolder) -> None:
        for packet in packets:
            pts = packet.pts if packet.pts is not None else 0
            dts = packet.dts if packet.dts is not None else pts
            sample = holder.push(dts, pts, packet.is_keyframe, annexb_to_avcc(bytes(packet)))
            if sample is not None:
                self._emit(sample)

    def _track(self, avcc: bytes) -> TrackInfo:
        plan = self.plan
        return TrackInfo(
            kind="video",
            timescale=90_000,
            codec_string=codec_string_from_avcc(avcc),
            codec_private=avcc,
            width=plan.width,
            height=plan.height,
            fps=plan.fps,
            bitrate=plan.video_bitrate,
        )


class PassthroughTrack:
    """The source rendition: the broadcaster's packets, re-timed to 90 kHz, no re-encode.

    It keeps the source codec (H.264, HEVC or AV1); `plan.codec_string` names it from
    the source's record, which the init segment carries as is.
    """

    def __init__(
        self, plan: RenditionPlan, extradata: bytes, audio: TrackInfo | None, emit: Emit
    ) -> None:
        self.plan = plan
        self._emit = emit
        self._holder = SampleHolder(plan.name, "video", round(90_000 / (plan.fps or 30.0)))
        self._waiting_for_keyframe = True
        track = TrackInfo(
            kind="video",
            timescale=90_000,
            codec_string=plan.codec_string or codec_string_from_avcc(extradata),
            codec_private=extradata,
            width=plan.width,
            height=plan.height,
            fps=plan.fps,
            bitrate=plan.video_bitrate,
        )
        emit(RenditionStart(plan.name, track, audio))

    def push(self, dts_ms: int, pts_ms: int, keyframe: bool, data: bytes) -> None:
        if self._waiting_for_keyframe and not keyframe:
            return
        self._waiting_for_keyframe = False
        sample = self._holder.push(dts_ms * 90, pts_ms * 90, keyframe, data)
        if sample is not None:
            self._emit(sample)

    def resync(self) -> None:
        """A packet was lost: what follows cannot be decoded until the next keyframe."""
        self._waiting_for_keyframe = True

    def flush(self) -> None:
        if (last := self._holder.flush()) is not None:
            self._emit(last)
