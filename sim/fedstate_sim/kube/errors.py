"""Kubernetes ``Status`` errors raised by the simulated API server.

Every message ends with ``(fedstate simulator)`` so a human reading a client-side
exception knows the answer came from the simulator, not from kube-apiserver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUFFIX = " (fedstate simulator)"


class ApiError(Exception):
    """A failed API call, rendered to the client as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message + SUFFIX)
        self.code = code
        self.reason = reason
        self.message = message + SUFFIX
        self.details = details

    def status(self) -> dict[str, Any]:
        return failure_status(self.code, self.reason, self.message, self.details)


def failure_status(code: int, reason: str, message: str, details: dict[str, Any] | None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def _details(resource: str, name: str) -> dict[str, Any]:
    plural, _, group = resource.partition(".")
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource} "{name}" not found', _details(resource, name))


def already_exists(resource: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists', _details(resource, name))


def conflict(resource: str, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(resource, name))


# apimachinery's field.ErrorType: the words of a field error, and the cause type it becomes in a Status.
REQUIRED, INVALID, TYPE_INVALID = "Required value", "Invalid value", "Invalid type"
FORBIDDEN, DUPLICATE, NOT_SUPPORTED = "Forbidden", "Duplicate value", "Unsupported value"
TOO_LONG, TOO_MANY = "Too long", "Too many"
_CAUSES = {
    REQUIRED: "FieldValueRequired",
    INVALID: "FieldValueInvalid",
    TYPE_INVALID: "FieldValueTypeInvalid",
    FORBIDDEN: "FieldValueForbidden",
    DUPLICATE: "FieldValueDuplicate",
    NOT_SUPPORTED: "FieldValueNotSupported",
    TOO_LONG: "FieldValueTooLong",
    TOO_MANY: "FieldValueTooMany",
}
_NO_VALUE_SHOWN = (REQUIRED, FORBIDDEN, TOO_LONG)
_OMITTED = object()


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: what is wrong (``type``), where (``field``), with which value, and why."""

    type: str
    field: str
    detail: str = ""
    value: Any = _OMITTED

    def body(self) -> str:
        """``ErrorBody()``: the text without the field path, as a Status cause carries it."""
        words = INVALID if self.type == TYPE_INVALID else self.type
        if self.type not in _NO_VALUE_SHOWN and self.value is not _OMITTED:
            words = f"{words}: {go_value(self.value)}"
        return f"{words}: {self.detail}" if self.detail else words

    def __str__(self) -> str:
        return f"{self.field or '<nil>'}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": _CAUSES[self.type], "message": self.body(), "field": self.field}


def go_value(value: Any) -> str:
    """A value as Go's ``%q``/``%v`` prints it in a field error: strings quoted, booleans lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


def aggregate(errs: list[FieldError]) -> str:
    """``ErrorList.ToAggregate()``: one error as it is, several in brackets."""
    return str(errs[0]) if len(errs) == 1 else "[" + ", ".join(str(e) for e in errs) + "]"


def invalid_object(kind: str, name: str, errs: list[FieldError], group: str = "") -> ApiError:
    """``NewInvalid``: 422 Invalid naming ``Kind.group "name"``, one cause per field error."""
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [e.cause() for e in errs]}
    if group:
        details["group"] = group
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {aggregate(errs)}', details)


def forbidden_field(kind: str, name: str, field: str, why: str, group: str = "") -> ApiError:
    """A field that may not change (``FieldValueForbidden``)."""
    return invalid_object(kind, name, [FieldError(FORBIDDEN, field, why)], group)


def invalid(kind: str, name: str, field: str, value: object, why: str, group: str = "") -> ApiError:
    return invalid_object(kind, name, [FieldError(INVALID, field, why, value)], group)


def forbidden(resource: str, name: str, why: str) -> ApiError:
    """403 Forbidden from an admission plugin: ``<resource> "<name>" is forbidden: <why>``."""
    return ApiError(403, "Forbidden", f'{resource} "{name}" is forbidden: {why}', _details(resource, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def too_large(requested: int, current: int) -> ApiError:
    """A resourceVersion from the future (e.g. the simulator restarted): the client must relist."""
    details = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return ApiError(504, "Timeout", f"Too large resource version: {requested}, current: {current}", details)


def method_not_allowed(verb: str, resource: str) -> ApiError:
    return method_not_allowed_because(f"the server does not allow {verb} on {resource}")


def method_not_allowed_because(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format: "
        f"accepted media types include: application/json-patch+json, application/merge-patch+json, "
        f"application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})",
    )


def namespace_missing(namespace: str) -> ApiError:
    return not_found("namespaces", namespace)


def unknown_resource(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
