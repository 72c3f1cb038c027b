"""The blocking steps of making a VOD, one function per journal step.

Layout under `vod_root`:

    .building/<vod_id>/   a VOD being made: .journal.json, manifest.json, links ...
    <vod_id>/             a published VOD (served at /vod/<vod_id>/...):
        master.m3u8, <rendition>/index.m3u8, <rendition>/init*.mp4, <msn>.m4s
        vod.mp4           the top rendition as one faststart MP4
        manifest.json     the snapshot (also what a replica copies)
        vod.json          `VodInfo`: what the control plane records
        .journal.json

Every step may be redone after a crash: links that exist are kept, files are
written atomically, the publishing rename is skipped once it happened.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from edge_node.deliver.paths import is_name
from edge_node.package.files import write_atomic
from edge_node.record.journal import Journal, JournalError, Step
from edge_node.record.manifest import VodManifest
from edge_node.record.playlists import MASTER_PLAYLIST, MEDIA_PLAYLIST, master_playlist
from edge_node.record.playlists import media_playlist as media_playlist_text
from edge_node.record.remux import remux_rendition
from edge_node.record.thumbnails import POSTER, write_thumbnails

BUILDING = ".building"
JOURNAL = ".journal.json"
MANIFEST = "manifest.json"
INFO = "vod.json"
MP4 = "vod.mp4"
FILES = "files.json"  # every other file of the VOD: what a replica copies
EXPIRY = ".expires"  # Unix seconds, as the control plane said; the sweeper reads it


class VodInfo(msgspec.Struct, frozen=True):
    vod_id: str
    stream_id: str
    channel: str
    ended_at: float
    duration: float
    size: int  # bytes on disk, every rendition and the MP4
    renditions: tuple[tuple[str, int, int, int], ...]  # name, width, height, bandwidth
    mp4: str
    thumbnail: str = ""


class VodPaths:
    def __init__(self, vod_root: Path, vod_id: str) -> None:
        self.root = vod_root
        self.vod_id = vod_id
        self.building = vod_root / BUILDING / vod_id
        self.final = vod_root / vod_id

    @property
    def current(self) -> Path:
        """Where the VOD's files are now: published, or still being made."""
        return self.final if self.final.is_dir() else self.building

    def read_journal(self) -> Journal | None:
        for directory in (self.final, self.building):
            try:
                return Journal.decode((directory / JOURNAL).read_bytes())
            except FileNotFoundError:
                continue
            except JournalError:
                return None
        return None

    def recover_journal(self) -> Journal | None:
        """The journal after a crash: a snapshot written just before its journal entry
        counts as done (the manifest is written atomically)."""
        journal = self.read_journal()
        if journal is not None:
            return journal
        try:
            self.read_manifest()
        except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return Journal(self.vod_id).advance(Step.SNAPSHOT)

    def write_journal(self, journal: Journal) -> None:
        write_atomic(self.current / JOURNAL, journal.encode())

    def read_manifest(self) -> VodManifest:
        return VodManifest.decode((self.current / MANIFEST).read_bytes())


def write_snapshot(paths: VodPaths, manifest: VodManifest) -> None:
    paths.building.mkdir(parents=True, exist_ok=True)
    write_atomic(paths.building / MANIFEST, manifest.encode())


def link_segments(paths: VodPaths, manifest: VodManifest, live_dir: Path) -> None:
    """Hard-link every init and segment the manifest lists (no bytes copied)."""
    for rendition in manifest.renditions:
        target = paths.building / rendition.name
        target.mkdir(exist_ok=True)
        source = live_dir / rendition.name
        names = [*rendition.inits, *(f"{s.msn}.m4s" for s in rendition.segments)]
        # Plain strings, not Paths: an hour of five renditions is 9,000 links.
        for name in names:
            try:
                os.link(f"{source}/{name}", f"{target}/{name}")
            except FileExistsError:
                continue


def write_playlists(paths: VodPaths, manifest: VodManifest) -> None:
    write_atomic(paths.building / MASTER_PLAYLIST, master_playlist(manifest).encode())
    for rendition in manifest.renditions:
        text = media_playlist_text(rendition)
        write_atomic(paths.building / rendition.name / MEDIA_PLAYLIST, text.encode())


def write_mp4(paths: VodPaths, manifest: VodManifest) -> None:
    top = manifest.top()
    if top is None:
        return  # audio only: the playlists are the VOD
    remux_rendition(paths.building / top.name, top, paths.building / MP4)


def publish(paths: VodPaths, manifest: VodManifest, thumbnail: str = "") -> VodInfo:
    """Write vod.json and move the VOD into place (atomic: one rename)."""
    directory = paths.current
    write_atomic(directory / FILES, msgspec.json.encode(listing(directory)))
    info = describe(directory, manifest, thumbnail)
    write_atomic(directory / INFO, msgspec.json.encode(info))
    if directory == paths.building:
        os.rename(paths.building, paths.final)
    return info


def listing(directory: Path) -> list[str]:
    """The VOD's servable files, relative to its directory (no hidden ones)."""
    return sorted(n for n in file_sizes(directory) if is_vod_file(n) and n not in (FILES, INFO))


def file_sizes(directory: Path) -> dict[str, int]:
    """Every file under `directory`, by its relative name: one scandir pass, no Path
    objects (a VOD hour is 9,000 segment links)."""
    sizes: dict[str, int] = {}
    pending = [("", str(directory))]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file():
                    sizes[prefix + entry.name] = entry.stat().st_size
    return sizes


MAX_FILES = 200_000  # 5 renditions of 8 hours of 2 s segments, with room


def parse_listing(data: bytes) -> list[str]:
    """`files.json` as another node sent it: plain relative names only."""
    try:
        names = msgspec.json.decode(data, type=list[str])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"bad file listing: {exc}") from None
    if len(names) > MAX_FILES or not all(is_vod_file(n) for n in names):
        raise ValueError("file listing names files a VOD cannot have")
    return names


def is_vod_file(name: str) -> bool:
    """A path inside a VOD directory that may be served or copied: plain names only."""
    parts = name.split("/")
    return len(parts) <= 2 and all(is_name(p) for p in parts)


def describe(directory: Path, manifest: VodManifest, thumbnail: str = "") -> VodInfo:
    mp4 = directory / MP4
    size = sum(file_sizes(directory).values())
    return VodInfo(
        vod_id=manifest.vod_id,
        stream_id=manifest.stream_id,
        channel=manifest.channel,
        ended_at=manifest.ended_at,
        duration=manifest.duration,
        size=size,
        renditions=tuple((r.name, r.width, r.height, r.bandwidth) for r in manifest.renditions),
        mp4=MP4 if mp4.exists() else "",
        thumbnail=thumbnail,
    )


def write_expiry(directory: Path, expires_at: float) -> None:
    write_atomic(directory / EXPIRY, f"{expires_at:.3f}\n".encode())


def read_expiry(directory: Path) -> float | None:
    try:
        return float((directory / EXPIRY).read_text())
    except (FileNotFoundError, ValueError):
        return None


def read_info(directory: Path) -> VodInfo | None:
    try:
        return msgspec.json.decode((directory / INFO).read_bytes(), type=VodInfo)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def run_step(step: Step, paths: VodPaths, live_dir: Path) -> None:
    """Do one step after the snapshot (which needs the packager, not the disk)."""
    manifest = paths.read_manifest()
    if step is Step.LINK:
        link_segments(paths, manifest, live_dir)
    elif step is Step.PLAYLISTS:
        write_playlists(paths, manifest)
    elif step is Step.MP4:
        write_mp4(paths, manifest)
    elif step is Step.THUMBNAILS:
        write_thumbnails(paths.building, manifest)
    elif step is Step.PUBLISH:
        publish(paths, manifest, thumbnail_name(paths.current))
    else:
        raise ValueError(f"{step.value} is not a disk step")


def thumbnail_name(directory: Path) -> str:
    return POSTER if (directory / POSTER).exists() else ""
