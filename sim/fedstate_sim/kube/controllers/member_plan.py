"""Pure rules deciding which simulated mongod members should run in a namespace.

A member runs for a Ready pod with a container whose command/args begin with ``mongod``,
selected by a NodePort/LoadBalancer Service whose port targets that container's port (or
27017). Each pod backs at most one member and each ``VIP:nodePort`` at most one pod.
"""

from __future__ import annotations

import os
import shlex

from fedstate_sim.kube.meta import Obj, labels_of, meta, name_of, spec_of, uid_of
from fedstate_sim.kube.services import EXPOSED_TYPES
from fedstate_sim.mongo.api import MemberLaunch

MONGOD_PORT = 27017
DEFAULT_REPL_SET = "rs0"
Address = tuple[str, int]
Desired = dict[Address, tuple[MemberLaunch, str]]  # → (launch, pod uid)


def command_tokens(container: Obj) -> list[str]:
    """command + args as words; ``sh -c "exec mongod ..."`` is looked through."""
    tokens = [str(t) for t in (container.get("command") or []) + (container.get("args") or [])]
    if len(tokens) >= 3 and os.path.basename(tokens[0]) in ("sh", "bash") and tokens[1] == "-c":
        try:
            tokens = shlex.split(tokens[2])
        except ValueError:
            return tokens
        if tokens and tokens[0] == "exec":
            tokens = tokens[1:]
    return tokens


def mongod_container(pod: Obj) -> Obj | None:
    for container in spec_of(pod).get("containers") or []:
        tokens = command_tokens(container)
        if tokens and os.path.basename(tokens[0]) == "mongod":
            return container
    return None


def repl_set(container: Obj) -> str:
    tokens = command_tokens(container)
    for index, token in enumerate(tokens):
        if token.startswith("--replSet="):
            return token.split("=", 1)[1]
        if token == "--replSet" and index + 1 < len(tokens):
            return tokens[index + 1]
    return DEFAULT_REPL_SET


def data_key(cluster: str, pod: Obj) -> str:
    namespace = meta(pod)["namespace"]
    for volume in spec_of(pod).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            return f"{cluster}/{namespace}/{claim}"
    return f"{cluster}/{namespace}/pod/{name_of(pod)}"


def targets(port: Obj, container: Obj) -> bool:
    target = port.get("targetPort", port.get("port")) or 0
    ports = container.get("ports") or []
    if isinstance(target, str) and not target.isdigit():
        return any(p.get("name") == target for p in ports)
    return int(target) == MONGOD_PORT or any(p.get("containerPort") == int(target) for p in ports)


def selects(service: Obj, pod: Obj) -> bool:
    selector = spec_of(service).get("selector") or {}
    labels = labels_of(pod)
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def desired_members(cluster: str, vip: str, services: list[Obj], ready_pods: list[Obj]) -> Desired:
    desired: Desired = {}
    taken: set[str] = set()
    by_label = _index_by_label([(pod, c) for pod in ready_pods if (c := mongod_container(pod)) is not None])
    for service in (s for s in services if spec_of(s).get("type") in EXPOSED_TYPES):
        selector = spec_of(service).get("selector") or {}
        pool = by_label.get(next(iter(selector.items()), ("", "")), [])
        for port in spec_of(service).get("ports") or []:
            match = next(
                (pc for pc in pool if name_of(pc[0]) not in taken and selects(service, pc[0]) and targets(port, pc[1])),
                None,
            )
            if match is None or not port.get("nodePort"):
                continue
            taken.add(name_of(match[0]))
            launch = _launch(cluster, vip, int(port["nodePort"]), *match)
            desired[(vip, launch.port)] = (launch, uid_of(match[0]))
    return desired


def _index_by_label(candidates: list[tuple[Obj, Obj]]) -> dict[tuple[str, str], list[tuple[Obj, Obj]]]:
    """(label, value) → mongod pods carrying it, so each Service only looks at plausible pods."""
    index: dict[tuple[str, str], list[tuple[Obj, Obj]]] = {}
    for pod, container in candidates:
        for pair in labels_of(pod).items():
            index.setdefault(pair, []).append((pod, container))
    return index


def _launch(cluster: str, vip: str, port: int, pod: Obj, container: Obj) -> MemberLaunch:
    return MemberLaunch(
        cluster=cluster,
        host=vip,
        port=port,
        repl_set=repl_set(container),
        data_key=data_key(cluster, pod),
        pod=f"{meta(pod)['namespace']}/{name_of(pod)}",
        image=container["image"],
    )
