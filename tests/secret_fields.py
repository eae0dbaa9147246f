"""Every secret field of the user kinds, found by walking their models, not read from the redaction rules.

A field is secret when its wire name says so (password, passwd, token). The redaction tests fill each one
with a value of its own and look for that value in everything a user can read, so a field whose rule is
dropped, or a new secret field nobody wrote a rule for, fails them.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from fedstate.models.mongodb import MongoDBSpec
from fedstate.models.multicloud import MultiCloudMongoDBSpec

SPECS: dict[str, type[BaseModel]] = {"MultiCloudMongoDB": MultiCloudMongoDBSpec, "MongoDB": MongoDBSpec}
_SECRET_WORDS = ("password", "passwd", "token")

Path = tuple[str, ...]


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation can hold (through Optional, unions and Annotated), lists excluded."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    elif typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        for argument in typing.get_args(annotation):
            yield from _models(argument)


def _walk(model: type[BaseModel], prefix: Path) -> Iterator[Path]:
    for name, field in model.model_fields.items():
        path = (*prefix, field.alias or name)
        if any(word in path[-1].lower() for word in _SECRET_WORDS):
            yield path
        for inner in _models(field.annotation):
            yield from _walk(inner, path)


def secret_paths(kind: str) -> set[Path]:
    """The wire paths, under ``spec``, of every secret field of ``kind``."""
    return set(_walk(SPECS[kind], ()))


def secret_value(path: Path) -> str:
    """The value a test stores in the field at ``path``: unique, and easy to find in any output."""
    return "s3cret-" + "-".join(path)


def spec_with_every_secret(kind: str) -> dict[str, Any]:
    """A valid spec of ``kind`` whose every secret field holds its own ``secret_value``."""
    # Registry credentials need a username beside the password.
    spec: dict[str, Any] = {"imagePullSecret": {"username": "bot"}}
    if kind == "MultiCloudMongoDB":
        spec = {"imageSetting": spec}
    for path in secret_paths(kind):
        node = spec
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = secret_value(path)
    return spec


def value_at(spec: Any, path: Path) -> Any:
    for key in path:
        spec = spec.get(key) if isinstance(spec, dict) else None
    return spec
