"""The envelope every bus value travels in: ``{"schemaVersion", "kind", "data"}``.

Readers accept any minor version of the major they know and refuse others loudly,
so a rolling upgrade can add fields without breaking older readers: a value written by a
newer minor is read with the fields this build does not know ignored, while a value of this
minor or older must match the model exactly (an unknown field there is a bug, not news).
Writers bump the minor whenever they add a field.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedstate.models.errors import describe

# 1.1: adopted volumes, forced reconfig, podSpec fields, older root passwords; 1.2: election term and date in reports
SCHEMA_VERSION = "1.4"
_MAJOR, _MINOR = (int(part) for part in SCHEMA_VERSION.split("."))

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
    major, _, minor = version.partition(".")
    if major != str(_MAJOR) or not minor.isdigit():
        raise InvalidValue(f"unsupported schemaVersion {version!r}; this build reads {_MAJOR}.x")
    newer = int(minor) > _MINOR
    try:
        return model.model_validate(envelope.get("data"), extra="ignore" if newer else None)
    except ValidationError as exc:
        raise InvalidValue(f"invalid {model.__name__}: {describe(exc)}") from None
