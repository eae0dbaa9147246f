"""How many members fit in a cluster, counted node by node.

A member is one pod and must fit on ONE node: 2,000 nodes with 1 free core each cannot
host a 2-core member. Members promised to in-flight placements (reservations) are packed
onto the nodes first, largest-free node first, as the Kubernetes scheduler would spread them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fedstate.models.cluster import NodeResources

from . import units
from .request import MemberShape, Reservation

_UNBOUNDED = 1 << 62


@dataclass
class NodeRoom:
    """The free requests of one node, mutable while reservations are packed onto it."""

    cpu_millis: int
    memory_bytes: int
    pods: int

    @classmethod
    def of(cls, node: NodeResources) -> NodeRoom:
        return cls(
            node.allocatable_cpu_millis - node.requested_cpu_millis,
            node.allocatable_memory_bytes - node.requested_memory_bytes,
            node.allocatable_pods - node.pods,
        )

    def fits(self, shape: MemberShape) -> int:
        """How many members of ``shape`` this node can still take."""
        by_cpu = self.cpu_millis // shape.cpu_millis if shape.cpu_millis else _UNBOUNDED
        by_memory = self.memory_bytes // shape.memory_bytes if shape.memory_bytes else _UNBOUNDED
        return max(0, min(by_cpu, by_memory, self.pods))

    def take(self, shape: MemberShape) -> None:
        self.cpu_millis -= shape.cpu_millis
        self.memory_bytes -= shape.memory_bytes
        self.pods -= 1


def rooms(nodes: Iterable[NodeResources]) -> list[NodeRoom]:
    return [NodeRoom.of(node) for node in nodes]


def pack_reservations(node_rooms: Sequence[NodeRoom], reservations: Iterable[Reservation]) -> int:
    """Deduct reserved members from the nodes, each on the node with the most room; returns how many found none."""
    homeless = 0
    for reservation in reservations:
        for _ in range(reservation.members):
            best = max(node_rooms, key=lambda room: room.fits(reservation.shape), default=None)
            if best is None or best.fits(reservation.shape) == 0:
                homeless += 1
                continue
            best.take(reservation.shape)
    return homeless


def members_fitting(node_rooms: Iterable[NodeRoom], shape: MemberShape) -> int:
    return sum(room.fits(shape) for room in node_rooms)


def members_fitting_nodes(nodes: Iterable[NodeResources], shape: MemberShape) -> int:
    """``members_fitting(rooms(nodes), shape)`` without building rooms: the hot path, no reservations."""
    cpu, memory = shape.cpu_millis or 1, shape.memory_bytes or 1
    total = 0
    for node in nodes:
        by_cpu = (node.allocatable_cpu_millis - node.requested_cpu_millis) // cpu if shape.cpu_millis else _UNBOUNDED
        by_memory = (
            (node.allocatable_memory_bytes - node.requested_memory_bytes) // memory
            if shape.memory_bytes
            else _UNBOUNDED
        )
        fits = min(by_cpu, by_memory, node.allocatable_pods - node.pods)
        if fits > 0:
            total += fits
    return total


def shortage(node_rooms: Sequence[NodeRoom], shape: MemberShape) -> tuple[str, str]:
    """When no node fits a member: the reason code and a detail naming the largest free room."""
    most_cpu = max((room.cpu_millis for room in node_rooms), default=0)
    most_memory = max((room.memory_bytes for room in node_rooms), default=0)
    needs = f"a member requests {units.cpu(shape.cpu_millis)} CPU and {units.memory(shape.memory_bytes)} on one node"
    if most_cpu < shape.cpu_millis:
        return "insufficient cpu", f"{needs}; the most free CPU on a node is {units.cpu(max(0, most_cpu))}"
    if most_memory < shape.memory_bytes:
        return "insufficient memory", f"{needs}; the most free memory on a node is {units.memory(max(0, most_memory))}"
    if all(room.pods <= 0 for room in node_rooms):
        return "too many pods", "every node is at its pod limit"
    return "no node fits a member", f"{needs}; free CPU and memory are on different nodes"
