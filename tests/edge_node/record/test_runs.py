"""Runs of segment files read as one."""

from __future__ import annotations

from pathlib import Path

from edge_node.record.runs import ChainedFile


def test_chained_files_read_and_seek_as_one(tmp_path: Path) -> None:
    parts = []
    for index, data in enumerate((b"abc", b"", b"defgh", b"ij")):
        parts.append(tmp_path / f"{index}")
        parts[-1].write_bytes(data)
    with ChainedFile(parts) as chained:
        assert chained.read() == b"abcdefghij"
        chained.seek(2)
        assert chained.read(4) == b"cdef"
        chained.seek(-3, 2)
        assert chained.read() == b"hij"
        assert chained.read(5) == b""
