"""Pure rules deciding which simulated mongod members should run in a namespace.

A member runs for a Ready pod with a container whose command/args begin with ``mongod``,
selected by a NodePort/LoadBalancer Service whose port targets that container's port (or
27017). Each pod backs at most one member and each ``VIP:nodePort`` at most one pod.
Its access control comes from the command line and the ``--config`` file as mongod reads
them: ``--keyFile``/``security.keyFile`` (whose content must be 6-1024 base64 characters,
whitespace ignored, or mongod does not start) and ``--auth``/``security.authorization``.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from fedstate_sim.kube.meta import Obj, labels_of, lookup, meta, name_of, spec_of, uid_of
from fedstate_sim.kube.podfiles import FileReader
from fedstate_sim.kube.pods import claims_of
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


@dataclass(frozen=True)
class Security:
    """mongod's access control as its command line and config file set it; ``error`` when it cannot start."""

    key_file: str | None = None
    authorization: bool = False
    error: str | None = None


_KEY_CHARS = re.compile(r"[A-Za-z0-9+/=]*")
_VALUED = ("--keyFile", "--config", "-f")


def mongod_options(tokens: list[str]) -> dict[str, str]:
    """The options of a mongod command line the simulator reads: --keyFile, --config/-f, --auth."""
    options: dict[str, str] = {}
    for index, token in enumerate(tokens):
        name, equals, value = token.partition("=")
        if name in _VALUED and (equals or index + 1 < len(tokens)):
            options["--config" if name == "-f" else name] = value if equals else tokens[index + 1]
        elif token == "--auth":
            options[token] = ""
    return options


def security(container: Obj, read: FileReader) -> Security:
    options = mongod_options(command_tokens(container))
    config: Any = {}
    if "--config" in options:
        text = read(options["--config"])
        if text is None:
            return Security(error=f"Error reading config file: No such file or directory: {options['--config']}")
        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            return Security(error=f"Error parsing YAML config file: {options['--config']}: {error}")
    config = config if isinstance(config, dict) else {}
    authorization = "--auth" in options or lookup(config, "security.authorization") == "enabled"
    path = options.get("--keyFile") or lookup(config, "security.keyFile")
    if not path:
        return Security(authorization=authorization)
    return _key_file(str(path), read)


def _key_file(path: str, read: FileReader) -> Security:
    content = read(path)
    if content is None:
        return Security(error=f"Error reading file {path}: No such file or directory")
    key = "".join(content.split())
    invalid = _KEY_CHARS.sub("", key)
    if invalid:
        return Security(error=f"invalid char in key file {path}: {invalid[0]}")
    if not 6 <= len(key) <= 1024:
        return Security(error=f"security key in {path} has length {len(key)}, must be between 6 and 1024 chars")
    return Security(key_file=key, authorization=True)


def data_key(cluster: str, pod: Obj) -> str:
    namespace = meta(pod)["namespace"]
    claim = next(claims_of(pod), None)
    return f"{cluster}/{namespace}/{claim}" if claim else f"{cluster}/{namespace}/pod/{name_of(pod)}"


def targets(port: Obj, container: Obj) -> bool:
    target = port.get("targetPort", port.get("port")) or 0
    ports = container.get("ports") or []
    if isinstance(target, str) and not target.isdigit():
        return any(p.get("name") == target for p in ports)
    return int(target) == MONGOD_PORT or any(p.get("containerPort") == int(target) for p in ports)


class Candidate:
    """A pod that can back a member, with what the plan reads from it worked out once.

    Stored objects are immutable snapshots, so the controller keeps one per pod object.
    """

    __slots__ = (
        "_launches",
        "cluster",
        "container",
        "data_key",
        "image",
        "labels",
        "name",
        "pod",
        "repl_set",
        "security",
        "uid",
    )

    def __init__(self, cluster: str, pod: Obj, container: Obj, read: FileReader) -> None:
        self.cluster = cluster
        self.pod = pod
        self.container = container
        self.name = name_of(pod)
        self.uid = uid_of(pod)
        self.labels = labels_of(pod)
        self.repl_set = repl_set(container)
        self.data_key = data_key(cluster, pod)
        self.image = str(container["image"])
        self.security = security(container, read)
        self._launches: dict[Address, MemberLaunch] = {}

    def launch(self, vip: str, port: int) -> MemberLaunch:
        """The same ``MemberLaunch`` object for the same address, so unchanged plans compare by identity."""
        address = (vip, port)
        launch = self._launches.get(address)
        if launch is None:
            launch = MemberLaunch(
                cluster=self.cluster,
                host=vip,
                port=port,
                repl_set=self.repl_set,
                data_key=self.data_key,
                pod=f"{meta(self.pod)['namespace']}/{self.name}",
                image=self.image,
                key_file=self.security.key_file,
                authorization=self.security.authorization,
            )
            self._launches[address] = launch
        return launch


def _no_files(path: str) -> str | None:
    return None


def candidate(cluster: str, pod: Obj, files: Callable[[Obj, Obj], FileReader] | None = None) -> Candidate | None:
    """The pod as a member-to-be, reading its keyFile and config through ``files(pod, container)``."""
    container = mongod_container(pod)
    if container is None:
        return None
    return Candidate(cluster, pod, container, files(pod, container) if files is not None else _no_files)


def desired_members(cluster: str, vip: str, services: list[Obj], ready_pods: list[Obj]) -> Desired:
    return plan_members(vip, services, [c for pod in ready_pods if (c := candidate(cluster, pod)) is not None])


def plan_members(vip: str, services: list[Obj], candidates: list[Candidate]) -> Desired:
    """``desired_members`` over candidates the caller may have cached (in pod order)."""
    exposed = []
    for service in services:
        spec = spec_of(service)
        selector = spec.get("selector") or {}
        if spec.get("type") in EXPOSED_TYPES and selector:
            exposed.append((spec, selector, next(iter(selector.items()))))
    # Each Service only looks at the pods carrying the first label of its selector.
    pools = _index_by_label(candidates, {first[0] for _, _, first in exposed})
    desired: Desired = {}
    taken: set[str] = set()
    for spec, selector, first in exposed:
        pool = pools.get(first, ())
        for port in spec.get("ports") or []:
            node_port = port.get("nodePort")
            if not node_port:
                continue
            match = _first_match(pool, taken, selector, port)
            if match is None:
                continue
            taken.add(match.name)
            launch = match.launch(vip, int(node_port))
            desired[(vip, launch.port)] = (launch, match.uid)
    return desired


def _first_match(pool: list[Candidate] | tuple[()], taken: set[str], selector: Obj, port: Obj) -> Candidate | None:
    """The first candidate not backing a member yet, selected by the Service and serving ``port``."""
    for c in pool:
        if c.name in taken:
            continue
        labels = c.labels
        if all(labels.get(k) == v for k, v in selector.items()) and targets(port, c.container):
            return c
    return None


def _index_by_label(candidates: list[Candidate], keys: set[str]) -> dict[tuple[str, str], list[Candidate]]:
    """(label, value) → the candidates carrying it, for the given label keys, in candidate order."""
    index: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        for key in keys:
            value = c.labels.get(key)
            if value is not None:
                index.setdefault((key, value), []).append(c)
    return index
