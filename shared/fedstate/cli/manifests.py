"""Reading manifests for ``fedstate apply -f``: multi-document YAML (or JSON) from a file or stdin."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fedstate.api import Resource, by_kind
from fedstate.api.resources import DEFAULT_NAMESPACE

from .errors import CliError


@dataclass(frozen=True)
class Manifest:
    resource: Resource
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def label(self) -> str:
        """kubectl's ``multicloudmongodb.middleware.fedstate.io/name``."""
        qualified = (
            f"{self.resource.kind.lower()}.{self.resource.group}" if self.resource.group else self.resource.kind.lower()
        )
        return f"{qualified}/{self.name}"


def read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise CliError(f"{source}: no such file")
    return path.read_text()


def parse(text: str, source: str, namespace: str | None = None) -> list[Manifest]:
    """Every non-empty document, in file order; ``namespace`` fills documents that name none."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise CliError(f"{source}: not valid YAML: {exc}") from None
    return [_manifest(d, f"{source} document {i + 1}", namespace) for i, d in enumerate(documents)]


def _manifest(document: Any, where: str, namespace: str | None) -> Manifest:
    if not isinstance(document, dict):
        raise CliError(f"{where}: a manifest must be a mapping with apiVersion, kind and metadata")
    try:
        resource = by_kind(str(document.get("kind")))
    except KeyError as exc:
        raise CliError(f"{where}: {exc.args[0]}") from None
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise CliError(f"{where}: metadata.name is required")
    metadata = {**metadata, "namespace": metadata.get("namespace") or namespace or DEFAULT_NAMESPACE}
    return Manifest(resource, {**document, "metadata": metadata})


def load(source: str, namespace: str | None = None) -> list[Manifest]:
    return parse(read_text(source), "stdin" if source == "-" else source, namespace)
