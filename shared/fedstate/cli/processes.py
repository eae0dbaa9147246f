"""Starting and stopping the processes of a local stack.

Each process runs in its own session (so a Ctrl-C in the terminal reaches only ``fedstate
up``, which then stops the stack in order), logs to ``.fedstate/logs/<name>.log``, and is
recorded with its start time so ``fedstate down`` never signals a recycled pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .state import Tier, start_ticks

if TYPE_CHECKING:
    from .records import ProcessRecord

KILL_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Launch:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    tier: Tier = Tier.GATEWAY  # what nothing else depends on is stopped first
    metrics_url: str | None = None

    @classmethod
    def module(
        cls,
        name: str,
        module: str,
        *args: str,
        env: dict[str, str] | None = None,
        tier: Tier = Tier.GATEWAY,
        metrics_url: str | None = None,
    ) -> Launch:
        """``python -m module args``, with this interpreter (the project's virtual environment)."""
        return cls(name, [sys.executable, "-m", module, *args], env or {}, tier, metrics_url)


def spawn(launch: Launch, log: Path) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            launch.args,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **launch.env},
            start_new_session=True,
        )
    ticks = start_ticks(process.pid)
    from .records import ProcessRecord  # pydantic loads only when a command needs the stack's records

    record = ProcessRecord(
        name=launch.name,
        pid=process.pid,
        tier=launch.tier,
        start_ticks=ticks,
        log=str(log),
        metrics_url=launch.metrics_url,
    )
    return process, record


def _signal(record: ProcessRecord, signum: int) -> None:
    """Signal the process's whole group (it leads its own session), or just the pid as a fallback."""
    try:
        os.killpg(record.pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(record.pid, signum)
        except ProcessLookupError:
            pass


def _stop_group(records: Sequence[ProcessRecord], timeout: float) -> tuple[list[str], list[str]]:
    live = [r for r in reversed(records) if r.alive()]
    for record in live:
        _signal(record, signal.SIGTERM)
    _wait_gone(live, timeout)
    killed = [r for r in live if r.alive()]
    for record in killed:
        _signal(record, signal.SIGKILL)
    _wait_gone(killed, KILL_GRACE_SECONDS)
    return [r.name for r in live if r not in killed], [r.name for r in killed]


def _wait_gone(records: Sequence[ProcessRecord], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(r.alive() for r in records):
        time.sleep(0.05)


def stop(records: Sequence[ProcessRecord], timeout: float = 10.0) -> tuple[list[str], list[str]]:
    """SIGTERM every live process one tier at a time, highest first (gateway ... simulator, NATS).

    A tier gets ``timeout`` seconds to exit before SIGKILL, and the next tier is signalled only
    once it is gone. Returns the names stopped by SIGTERM and the names that needed SIGKILL.
    """
    terminated: list[str] = []
    killed: list[str] = []
    for tier in sorted({r.tier for r in records}, reverse=True):
        done, forced = _stop_group([r for r in records if r.tier == tier], timeout)
        terminated += done
        killed += forced
    return terminated, killed


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def exited(processes: dict[str, subprocess.Popen[bytes]]) -> list[tuple[str, int]]:
    """Names and exit codes of the started processes that are no longer running."""
    return [(name, code) for name, p in processes.items() if (code := p.poll()) is not None]
