"""A service pays for its imports as it starts, not on its first request: the models' quantity parser imports
the whole kubernetes client on first use, a quarter of a second of the first create after the control plane
started."""

from __future__ import annotations

import subprocess
import sys


def test_the_service_frame_loads_the_quantity_parser_the_cli_leaves_for_later() -> None:
    probe = "import sys, {module}; print('kubernetes.utils.quantity' in sys.modules)"
    loaded = {
        module: subprocess.run(
            [sys.executable, "-c", probe.format(module=module)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for module in ("fedstate.service", "fedstate.models.base")
    }
    assert {"fedstate.service": "True", "fedstate.models.base": "False"} == loaded
