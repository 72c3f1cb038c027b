"""Makes the ingest test helpers (`rtmp_testclient`, `pyav_publisher`) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
