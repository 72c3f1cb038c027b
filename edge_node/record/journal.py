"""The VOD journal: which steps of making one VOD are done. Pure and synchronous.

A VOD is built under `<vod_root>/.building/<vod_id>/` and renamed into place when it
is whole, so viewers never see half of one. The journal (`journal.json` beside the
files) names the steps done, in order; after a crash the recorder redoes from the
first step not done, and every step is safe to redo (links and writes replace, the
rename is skipped once made). `reported` is kept in the published directory: a VOD
whose report to the control plane failed is reported again later, never rebuilt.
"""

from __future__ import annotations

from enum import Enum

import msgspec


class Step(Enum):
    SNAPSHOT = "snapshot"  # manifest.json written
    LINK = "link"  # segments and inits hard-linked
    PLAYLISTS = "playlists"  # master and media playlists written
    MP4 = "mp4"  # the download remuxed
    THUMBNAILS = "thumbnails"  # poster, sprite sheets and their WebVTT track
    PUBLISH = "publish"  # vod.json written, directory renamed into place
    REPORT = "report"  # the control plane recorded it


ORDER = tuple(Step)


class JournalError(ValueError):
    """A step out of order, or a journal file that is not one."""


class Journal(msgspec.Struct, frozen=True):
    vod_id: str
    done: tuple[Step, ...] = ()

    @property
    def next_step(self) -> Step | None:
        return ORDER[len(self.done)] if len(self.done) < len(ORDER) else None

    @property
    def complete(self) -> bool:
        return self.next_step is None

    @property
    def published(self) -> bool:
        return Step.PUBLISH in self.done

    def advance(self, step: Step) -> Journal:
        """The journal once `step` is done; refuses any step but the next one."""
        if step is not self.next_step:
            raise JournalError(f"{self.vod_id}: {step.value} done out of order")
        return Journal(self.vod_id, (*self.done, step))

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Journal:
        try:
            journal = msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise JournalError(f"bad journal: {exc}") from None
        if journal.done != ORDER[: len(journal.done)]:
            raise JournalError(f"{journal.vod_id}: steps out of order in the journal")
        return journal
