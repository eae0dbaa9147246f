"""The envelope every bus value travels in: ``{"schemaVersion", "kind", "data"}``.

Readers accept any minor version of the major they know and refuse others loudly,
so a rolling upgrade can add fields without breaking older readers.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedstate.models.errors import describe

SCHEMA_VERSION = "1.0"
_MAJOR = SCHEMA_VERSION.split(".")[0]

M = TypeVar("M", bound=BaseModel)


class InvalidValue(ValueError):
    """A bus value that cannot be used: bad JSON, unknown schema version or failed validation."""


def encode(value: BaseModel) -> bytes:
    envelope = {
        "schemaVersion": SCHEMA_VERSION,
        "kind": type(value).__name__,
        "data": value.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes, model: type[M]) -> M:
    try:
        envelope: dict[str, Any] = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise InvalidValue("not an envelope object")
    version = str(envelope.get("schemaVersion", ""))
    if version.split(".")[0] != _MAJOR:
        raise InvalidValue(f"unsupported schemaVersion {version!r}; this build reads {_MAJOR}.x")
    try:
        return model.model_validate(envelope.get("data"))
    except ValidationError as exc:
        raise InvalidValue(f"invalid {model.__name__}: {describe(exc)}") from None
