"""The contract between the simulated Kubernetes side and the simulated MongoDB side.

The Kubernetes controllers decide *when* a mongod runs (a Ready pod whose container
command/args start with ``mongod``, exposed by a NodePort Service); the MongoDB
fabric decides *how* it behaves (wire protocol, replica-set state machine). The
Kubernetes side also hands ``pods/exec`` requests for a mongod container to the
fabric, which plays the mongo shell inside the pod (``ShellRequest`` → ``ShellRun``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class MemberLaunch:
    """Everything the fabric needs to start one simulated mongod."""

    cluster: str  # simulated cluster name, used for fault injection
    host: str  # the cluster VIP, e.g. 127.0.1.1
    port: int  # the Service's NodePort
    repl_set: str  # from the container's --replSet argument
    data_key: str  # identity of the data volume (cluster/namespace/pvc), survives pod restarts
    pod: str  # namespace/name of the pod, for log lines
    image: str = "mongo:6.0"  # the container image, reported in buildInfo's version
    # The keyFile's content as mongod reads it (whitespace removed), or None when started without one.
    # Members whose keys differ cannot authenticate to each other: no heartbeats, votes or replication.
    key_file: str | None = None
    authorization: bool = False  # --auth / security.authorization: enabled (a keyFile implies it)

    @property
    def access_control(self) -> bool:
        """Does mongod enforce authentication (``--auth`` or ``--keyFile``)?"""
        return self.authorization or self.key_file is not None


@dataclass(frozen=True)
class ShellRequest:
    """A program to run in a pod's mongod container, as ``pods/exec`` asks."""

    argv: tuple[str, ...]
    image: str | None  # the mongod container's image, which decides the shells it has; None: no mongo shell
    member: tuple[str, int] | None  # the pod's simulated mongod (VIP, NodePort); None: not listening
    read_file: Callable[[str], str | None]  # a file in the container (mounted Secrets/ConfigMaps), or None


@dataclass(frozen=True)
class ShellRun:
    """What the container runtime reports: output and exit code, or why the program could not start."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    start_error: str | None = None


class MemberHost(Protocol):
    """Implemented by the MongoDB fabric; called by the Kubernetes controllers."""

    async def start(self) -> None:
        """Get ready to run members (before the clusters start)."""

    async def start_member(self, launch: MemberLaunch) -> None:
        """Start listening on host:port with the data under data_key. Idempotent."""

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        """Stop the member listening on host:port (pod gone or not Ready). Data is kept. Idempotent. ``clean``:
        as mongod on SIGTERM (its pod deleted), a primary first hands over to a caught-up secondary."""

    def forget_data(self, data_key: str) -> None:
        """The volume was deleted: drop its data, so a new member starts empty."""

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        """A failed cluster's members stop answering clients and heartbeats; recovery resumes them."""

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        """Cut replica-set heartbeats (and client traffic is unaffected) between two sets of clusters."""

    def heal(self) -> None:
        """Remove every partition."""

    async def run_shell(self, request: ShellRequest) -> ShellRun:
        """Run the mongo shell in a pod (the only program the simulator runs in a container)."""

    async def access_refusals(self) -> list[dict[str, Any]]:
        """The latest commands refused as Unauthorized (13): member, command, client app, over loopback or not."""

    async def close(self) -> None:
        """Stop every member."""
