"""bench/e2e.py's reading of the simulator's log: what it takes off a create's time as Kubernetes' and MongoDB's
(no stack, no clock). The pods' wait starts at the last pod's creation, never earlier: until then the control
plane had a StatefulSet left to write."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.create_timeline import simulated_waits
from bench.e2e import on_cpu_seconds

START = datetime(2026, 12, 6, 8, tzinfo=UTC)


def line(ms: float, message: str) -> str:
    return json.dumps({"time": (START + timedelta(milliseconds=ms)).isoformat(), "message": message})


def started(ms: float, pod: str, age_ms: float) -> str:
    address = f"127.0.1.1:{30000 + int(ms)}"
    return line(
        ms,
        f"fedstate simulator: member-1 started member {address} (default/{pod}), {age_ms} ms after its pod was created",
    )


def test_the_pods_wait_runs_from_the_last_pod_created_to_the_last_member_started(tmp_path: Path) -> None:
    log = tmp_path / "simulator.log"
    log.write_text(
        "\n".join(
            [
                started(40, "db-m0-0", 6.0),  # created at 34
                started(52, "db-m1-0", 2.0),  # created at 50: the last pod created
                started(55, "db-m2-0", 10.0),  # created at 45, started last
                line(
                    70,
                    "fedstate simulator mongod ... (default/db-m0-0, cluster member-1): installed config (replSetInitiate)",
                ),
                line(400, "fedstate simulator mongod ... (default/db-m0-0, cluster member-1): won; now PRIMARY"),
                line(
                    700, "fedstate simulator mongod ... (default/db-m1-0, cluster member-2): initial sync from x done"
                ),
                "not a log record",
                started(60, "other-m0-0", 1.0),
            ]
        )
    )
    waits = simulated_waits(log.read_text().splitlines(), ["db"])
    assert abs(waits.pods["db"] - 0.005) < 1e-6  # 50 → 55 ms
    assert abs(waits.database["db"] - 0.630) < 1e-6  # 70 → 700 ms
    assert "other" not in waits.pods


def test_the_cpu_window_counts_every_thread_of_a_process() -> None:
    """``--cpu-window-ms`` reads the scheduler's accounting of all of a process's threads: the CPU one busy thread
    used shows in its process's figure (a gone process reads as none)."""
    spun: list[float] = []

    def spin() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.05:
            pass
        spun.append(time.thread_time() - started)

    pids = {"me": os.getpid(), "gone": 2**22 + 7}
    before = on_cpu_seconds(pids)
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    after = on_cpu_seconds(pids)
    assert after["me"] - before["me"] >= spun[0] * 0.99
    assert after["gone"] == before["gone"] == 0.0
