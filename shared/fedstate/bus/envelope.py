"""The envelope every bus value travels in: ``{"schemaVersion", "kind", "data"}``.

Readers accept any minor version of the major they know and refuse others loudly,
so a rolling upgrade can add fields without breaking older readers: a value written by a
newer minor is read with the fields this build does not know ignored, while a value of this
minor or older must match the model exactly (an unknown field there is a bug, not news).
Writers bump the minor whenever they add a field.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedstate.models.errors import describe

from .limits import MAX_VALUE_BYTES, in_units

# 1.1: adopted volumes, forced reconfig, podSpec fields, older root passwords; 1.2: election term and date in reports
SCHEMA_VERSION = "1.6"
_MAJOR, _MINOR = (int(part) for part in SCHEMA_VERSION.split("."))

M = TypeVar("M", bound=BaseModel)


class Unreadable(StrEnum):
    """Why a bus value cannot be used: the dead letter's ``Fedstate-Cause`` and the event's reason say which."""

    NOT_JSON = "NotJSON"
    UNKNOWN_SCHEMA = "UnknownSchemaVersion"
    INVALID = "Invalid"
    OVERSIZED = "Oversized"


class InvalidValue(ValueError):
    """A bus value that cannot be used: bad JSON, unknown schema version, failed validation or too large."""

    def __init__(self, cause: Unreadable, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def encode(value: BaseModel) -> bytes:
    envelope = {
        "schemaVersion": SCHEMA_VERSION,
        "kind": type(value).__name__,
        "data": value.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    # UTF-8 as is, never \u escapes: the stored value is then as large as the object the intake measured
    # (``limits.object_size``), where escaping made 512 KiB of accented letters 1.5 MiB, over NATS's max_payload.
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def decode(raw: bytes, model: type[M]) -> M:
    if len(raw) > MAX_VALUE_BYTES:
        # Only a server configured above NATS's default max_payload stores one; no writer of ours makes one.
        raise InvalidValue(
            Unreadable.OVERSIZED, f"oversized: {in_units(len(raw))}, a value may be at most {in_units(MAX_VALUE_BYTES)}"
        )
    try:
        envelope: dict[str, Any] = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue(Unreadable.NOT_JSON, f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise InvalidValue(Unreadable.NOT_JSON, "not an envelope object")
    version = str(envelope.get("schemaVersion", ""))
    major, _, minor = version.partition(".")
    if major != str(_MAJOR) or not minor.isdigit():
        raise InvalidValue(
            Unreadable.UNKNOWN_SCHEMA, f"unsupported schemaVersion {version!r}; this build reads {_MAJOR}.x"
        )
    newer = int(minor) > _MINOR
    try:
        return model.model_validate(envelope.get("data"), extra="ignore" if newer else None)
    except ValidationError as exc:
        raise InvalidValue(Unreadable.INVALID, f"invalid {model.__name__}: {describe(exc)}") from None
