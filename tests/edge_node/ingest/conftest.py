"""Makes the ingest test helper `pyav_publisher` importable (`rtmp_testclient`, which the
adversarial suite and the soak use too, sits in tests/)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
