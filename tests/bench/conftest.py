"""The benchmarks run as scripts, ``bench/`` first on the path, and import their pure halves by bare name
(``from create_timeline import …``); the tests import them the same way the scripts do."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
