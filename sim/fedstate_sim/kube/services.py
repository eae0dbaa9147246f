"""Service admission: ClusterIP and NodePort allocation, per simulated cluster.

NodePorts are real in the simulator: the MongoDB fabric listens on ``<cluster VIP>:<nodePort>``.
ClusterIPs are data only (nothing listens on them); they are drawn from the cluster's own
loopback /24 so no private-network address ever appears.
"""

from __future__ import annotations

import random
from typing import Any

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.meta import Obj, meta, spec_of
from fedstate_sim.kube.resources import ResourceType

NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
EXPOSED_TYPES = ("NodePort", "LoadBalancer")


class PortAllocator:
    """Which NodePort belongs to which service (``namespace/name``), and the ports of each: a Service's write
    releases its own ports without a walk over every port the cluster has given out."""

    def __init__(self, seed: str) -> None:
        self._owner: dict[int, str] = {}
        self._ports: dict[str, set[int]] = {}
        self._random = random.Random(seed)

    def owner(self, port: int) -> str | None:
        return self._owner.get(port)

    def claim(self, port: int, service: str) -> None:
        previous = self._owner.get(port)
        if previous is not None and previous != service:
            self._ports[previous].discard(port)
        self._owner[port] = service
        self._ports.setdefault(service, set()).add(port)

    def allocate(self, service: str) -> int:
        free = NODE_PORT_MAX - NODE_PORT_MIN + 1 - len(self._owner)
        if free <= 0:
            raise errors.ApiError(500, "InternalError", "range is full: no NodePort left in 30000-32767")
        while True:
            port = self._random.randint(NODE_PORT_MIN, NODE_PORT_MAX)
            if port not in self._owner:
                self.claim(port, service)
                return port

    def release_all(self, service: str, keep: set[int] | None = None) -> None:
        kept = keep or set()
        held = self._ports.pop(service, set())
        for port in held - kept:
            del self._owner[port]
        if held & kept:
            self._ports[service] = held & kept


class AddressAllocator:
    """Fake ClusterIPs ``a.b.c.n`` from the cluster VIP's /24, skipping the VIP itself."""

    def __init__(self, vip: str) -> None:
        prefix, _, last = vip.rpartition(".")
        self._pool = [f"{prefix}.{n}" for n in range(2, 255) if str(n) != last]
        self._used: dict[str, int] = {}
        self._next = 0

    def allocate(self) -> str:
        for _ in self._pool:
            address = self._pool[self._next % len(self._pool)]
            self._next += 1
            if address not in self._used:
                self._used[address] = 1
                return address
        address = self._pool[self._next % len(self._pool)]  # exhausted: share (data only)
        self._next += 1
        self._used[address] = self._used.get(address, 0) + 1
        return address

    def release(self, address: str | None) -> None:
        if address and address in self._used:
            self._used[address] -= 1
            if self._used[address] <= 0:
                del self._used[address]


class ServiceAdmission(Admission):
    def __init__(self, vip: str, seed: str) -> None:
        self.vip = vip
        self.ports = PortAllocator(seed)
        self.addresses = AddressAllocator(vip)

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = _default_spec(obj)
        if spec.get("clusterIP") != "None":
            spec["clusterIP"] = self.addresses.allocate()
        spec["clusterIPs"] = [spec["clusterIP"]]
        self._assign_node_ports(obj, {})
        obj["status"] = self._status(spec)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        spec = _default_spec(new)
        old_ip = spec_of(old).get("clusterIP")
        if spec.get("clusterIP") not in (None, "", old_ip):
            raise errors.invalid(
                "Service", meta(new)["name"], "spec.clusterIP", spec["clusterIP"], "field is immutable"
            )
        spec["clusterIP"], spec["clusterIPs"] = old_ip, [old_ip]
        self._assign_node_ports(new, _old_node_ports(old))
        new["status"] = self._status(spec)

    def on_delete(self, rtype: ResourceType, obj: Obj) -> None:
        self.ports.release_all(_service_key(obj))
        self.addresses.release(spec_of(obj).get("clusterIP"))

    def _assign_node_ports(self, obj: Obj, previous: dict[Any, int]) -> None:
        key, spec = _service_key(obj), spec_of(obj)
        _refuse_duplicate_node_ports(obj)
        exposed = spec.get("type") in EXPOSED_TYPES
        wanted: list[tuple[int, Obj]] = []
        for index, port in enumerate(spec.get("ports") or []):
            if not exposed:
                _drop_node_port(obj, index, port, previous)
                continue
            requested = port.get("nodePort") or previous.get(port.get("name") or port.get("port"))
            if requested:
                self._check_free(obj, index, int(requested), key)
                port["nodePort"] = int(requested)
            wanted.append((index, port))
        self.ports.release_all(key, keep={int(p["nodePort"]) for _, p in wanted if p.get("nodePort")})
        for _, port in wanted:
            if port.get("nodePort"):
                self.ports.claim(int(port["nodePort"]), key)
            else:
                port["nodePort"] = self.ports.allocate(key)

    def _check_free(self, obj: Obj, index: int, port: int, key: str) -> None:
        field = f"spec.ports[{index}].nodePort"
        if not NODE_PORT_MIN <= port <= NODE_PORT_MAX:
            raise errors.invalid(
                "Service",
                meta(obj)["name"],
                field,
                port,
                f"provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}",
            )
        owner = self.ports.owner(port)
        if owner is not None and owner != key:
            raise errors.invalid("Service", meta(obj)["name"], field, port, "provided port is already allocated")

    def _status(self, spec: Obj) -> Obj:
        if spec.get("type") == "LoadBalancer":
            return {"loadBalancer": {"ingress": [{"ip": self.vip, "ipMode": "VIP"}]}}
        return {"loadBalancer": {}}


def _drop_node_port(obj: Obj, index: int, port: Obj, previous: dict[Any, int]) -> None:
    """A Service that is not NodePort or LoadBalancer has no nodePorts: those it had before (a type change) are
    cleared, as kube's strategy clears them; a new one is a 422."""
    node_port = port.pop("nodePort", None)
    if node_port and node_port not in previous.values():
        why = f"may not be used when `type` is '{spec_of(obj).get('type')}'"
        raise errors.forbidden_field("Service", meta(obj)["name"], f"spec.ports[{index}].nodePort", why)


def _refuse_duplicate_node_ports(obj: Obj) -> None:
    """``ValidateService``: one nodePort serves one (protocol, port) of a Service: a repeat is a Duplicate value."""
    seen: set[tuple[str, int]] = set()
    for index, port in enumerate(spec_of(obj).get("ports") or []):
        if not port.get("nodePort"):
            continue
        pair = (port.get("protocol", "TCP"), int(port["nodePort"]))
        if pair in seen:
            duplicate = errors.FieldError(errors.DUPLICATE, f"spec.ports[{index}].nodePort", value=pair[1])
            raise errors.invalid_object("Service", meta(obj)["name"], [duplicate])
        seen.add(pair)


def _default_spec(obj: Obj) -> Obj:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in EXPOSED_TYPES:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for index, port in enumerate(spec.setdefault("ports", [])):
        if not port.get("port"):
            raise errors.invalid(
                "Service",
                meta(obj).get("name", ""),
                f"spec.ports[{index}].port",
                0,
                "must be between 1 and 65535, inclusive",
            )
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
    return spec


def _old_node_ports(old: Obj) -> dict[Any, int]:
    """Previous nodePorts by port name and by port number, so an update that omits them keeps them."""
    result: dict[Any, int] = {}
    for port in spec_of(old).get("ports") or []:
        if port.get("nodePort"):
            if port.get("name"):
                result[port["name"]] = port["nodePort"]
            result[port["port"]] = port["nodePort"]
    return result


def _service_key(obj: Obj) -> str:
    return f"{meta(obj).get('namespace', '')}/{meta(obj)['name']}"
