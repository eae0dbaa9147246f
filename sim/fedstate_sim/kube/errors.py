"""Kubernetes ``Status`` errors raised by the simulated API server.

Every message ends with ``(fedstate simulator)`` so a human reading a client-side
exception knows the answer came from the simulator, not from kube-apiserver.
"""

from __future__ import annotations

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


def _field_error(kind: str, name: str, field: str, reason: str, cause: str) -> ApiError:
    """422 Invalid with one cause, in kube-apiserver's shape."""
    details = {"name": name, "kind": kind, "causes": [{"reason": reason, "message": cause, "field": field}]}
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {cause}', details)


def forbidden_field(kind: str, name: str, field: str, why: str) -> ApiError:
    """A field that may not change (``FieldValueForbidden``)."""
    return _field_error(kind, name, field, "FieldValueForbidden", f"{field}: Forbidden: {why}")


def invalid(kind: str, name: str, field: str, value: object, why: str) -> ApiError:
    return _field_error(kind, name, field, "FieldValueInvalid", f"{field}: Invalid value: {value!r}: {why}")


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
    return ApiError(405, "MethodNotAllowed", f"the server does not allow {verb} on {resource}")


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
