"""The fragmented-MP4 flag bits (ISO/IEC 14496-12 8.8): tfhd's and trun's, and the
sample flags. One home for them, so the chunk writer and the box reader cannot drift."""

from __future__ import annotations

# tfhd (8.8.7.1): which optional fields follow the track id, in this order.
TFHD_BASE_DATA_OFFSET = 0x00_0001
TFHD_SAMPLE_DESCRIPTION_INDEX = 0x00_0002
TFHD_DEFAULT_SAMPLE_DURATION = 0x00_0008
TFHD_DEFAULT_SAMPLE_SIZE = 0x00_0010
TFHD_DEFAULT_SAMPLE_FLAGS = 0x00_0020
# Data offsets count from this moof's start: a chunk decodes the same wherever it lands.
TFHD_DEFAULT_BASE_IS_MOOF = 0x02_0000

# trun (8.8.8.1): the run's optional header fields, then each sample's optional columns
# (in this order).
TRUN_DATA_OFFSET = 0x001
TRUN_FIRST_SAMPLE_FLAGS = 0x004
TRUN_SAMPLE_DURATION = 0x100
TRUN_SAMPLE_SIZE = 0x200
TRUN_SAMPLE_FLAGS = 0x400
TRUN_SAMPLE_COMPOSITION_TIME_OFFSET = 0x800

# Sample flags (8.8.3.1).
NON_SYNC_SAMPLE = 0x0001_0000  # sample_is_non_sync_sample
# depends_on=2 (an I-frame), or depends_on=1 plus sample_is_non_sync_sample.
SYNC_SAMPLE_FLAGS = 0x0200_0000
NON_SYNC_SAMPLE_FLAGS = 0x0100_0000 | NON_SYNC_SAMPLE
