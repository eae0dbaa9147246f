"""Reading manifests for ``fedstate apply -f``: multi-document YAML (or JSON) from files, directories or stdin.

As kubectl: ``-f DIR`` reads the directory's ``.yaml``, ``.yml`` and ``.json`` files in name order
(``-R`` also those of its subdirectories); a file that is not UTF-8 text, is not YAML, or holds an
object larger than the intake takes (``MAX_OBJECT_BYTES`` as JSON) is refused with one line before
anything is sent.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedstate.api import Resource, by_kind
from fedstate.api.resources import DEFAULT_NAMESPACE
from fedstate.bus.limits import MAX_OBJECT_BYTES, object_size, too_large

from .errors import CliError

if TYPE_CHECKING:
    import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# A document start marker: ``---`` at the start of a line, which YAML forbids inside any content.
_DOCUMENT_START = re.compile(r"^---(?=\s|$)", re.MULTILINE)
# A document whose text is this many times the object limit cannot fit it as JSON unless it is mostly
# comments; it is refused unparsed (libyaml takes seconds over 10 MiB).
_LONGEST_TEXT = 4 * MAX_OBJECT_BYTES
# libyaml's loader when PyYAML was built with it: the same documents, read 20-40 times faster.


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


def _decoded(data: bytes, source: str) -> str:
    """UTF-8 text (a byte-order mark dropped); a binary file is one clear error, not a traceback."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{source}: not a text file (byte {exc.start} is not UTF-8); apply reads YAML or JSON manifests"
        ) from None
    if "\x00" in text:
        raise CliError(f"{source}: not a text file (it contains NUL bytes); apply reads YAML or JSON manifests")
    return text


def read_text(source: str) -> str:
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        return _decoded(stdin.read(), "stdin") if stdin is not None else sys.stdin.read()
    path = Path(source)
    if not path.exists():
        raise CliError(f'the path "{source}" does not exist')
    if not path.is_file():
        raise CliError(f'the path "{source}" is not a file or a directory')
    return _decoded(path.read_bytes(), source)


def _yaml_error(exc: yaml.YAMLError) -> str:
    """One line: ``line 3, column 5: found character '\\t' that cannot start any token``."""
    import yaml

    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return " ".join(str(exc).split())


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _refuse_long_documents(text: str, source: str) -> None:
    if len(text) <= _LONGEST_TEXT:
        return
    chunks = [chunk for chunk in _DOCUMENT_START.split(text) if _has_content(chunk)]
    for number, chunk in enumerate(chunks, 1):
        if (size := len(chunk.encode())) > _LONGEST_TEXT:
            raise CliError(f"{source} document {number}: {too_large('its text', size, 'of YAML')}")


def _documents(text: str, source: str) -> list[Any]:
    _refuse_long_documents(text, source)
    if text.lstrip().startswith("{"):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            pass  # YAML's flow style starts with "{" too
    import yaml  # loaded on first use: the CLI starts without it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        raise CliError(f"{source}: not valid YAML: {_yaml_error(exc)}") from None


def parse(text: str, source: str, namespace: str | None = None) -> list[Manifest]:
    """Every non-empty document, in file order; ``namespace`` fills documents that name none."""
    return [_manifest(d, f"{source} document {i + 1}", namespace) for i, d in enumerate(_documents(text, source))]


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
    if (size := object_size(document)) > MAX_OBJECT_BYTES:
        named = f'{resource.kind} "{metadata["name"]}"'
        raise CliError(f"{where}: {too_large(named, size)}")
    metadata = {**metadata, "namespace": metadata.get("namespace") or namespace or DEFAULT_NAMESPACE}
    return Manifest(resource, {**document, "metadata": metadata})


def files(source: str, recursive: bool = False) -> Iterator[str]:
    """``source`` itself, or the manifest files of a directory in name order (with ``recursive``, of its tree)."""
    path = Path(source)
    if source == "-" or not path.is_dir():
        yield source
        return
    for entry in sorted(path.iterdir()):
        if entry.is_dir():
            if recursive:
                yield from files(str(entry), recursive)
        elif entry.suffix in MANIFEST_SUFFIXES:
            yield str(entry)


def load(source: str, namespace: str | None = None, recursive: bool = False) -> list[Manifest]:
    """Every object of a file, of stdin (``-``) or of a directory's manifest files; empty when there is none."""
    return [
        manifest
        for name in files(source, recursive)
        for manifest in parse(read_text(name), "stdin" if name == "-" else name, namespace)
    ]
