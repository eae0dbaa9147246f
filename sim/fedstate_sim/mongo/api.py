"""The contract between the simulated Kubernetes side and the simulated MongoDB side.

The Kubernetes controllers decide *when* a mongod runs (a Ready pod whose container
command/args start with ``mongod``, exposed by a NodePort Service); the MongoDB
fabric decides *how* it behaves (wire protocol, replica-set state machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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


class MemberHost(Protocol):
    """Implemented by the MongoDB fabric; called by the Kubernetes controllers."""

    async def start_member(self, launch: MemberLaunch) -> None:
        """Start listening on host:port with the data under data_key. Idempotent."""

    async def stop_member(self, host: str, port: int) -> None:
        """Stop the member listening on host:port (pod gone or not Ready). Data is kept. Idempotent."""

    def forget_data(self, data_key: str) -> None:
        """The volume was deleted: drop its data, so a new member starts empty."""

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        """A failed cluster's members stop answering clients and heartbeats; recovery resumes them."""

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        """Cut replica-set heartbeats (and client traffic is unaffected) between two sets of clusters."""

    def heal(self) -> None:
        """Remove every partition."""

    async def close(self) -> None:
        """Stop every member."""
