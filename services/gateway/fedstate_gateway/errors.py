"""Every error the gateway returns is a Kubernetes ``Status``; this module builds them and maps exceptions.

``ApiError`` carries a ready ``KubeStatus``; the handlers turn intake refusals, request
validation failures, unknown routes and a silent intake into the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from starlette.exceptions import HTTPException

from fedstate.api import KubeStatus, Resource, StatusCause, StatusDetails
from fedstate.bus.cache import CacheStopped
from fedstate.bus.intake import IntakeFailed

from .caches import CacheBehind

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    422: "Invalid",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    def __init__(self, status: KubeStatus) -> None:
        super().__init__(status.message)
        self.status = status


def status_error(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    resource: Resource | None = None,
    name: str | None = None,
    causes: Iterable[StatusCause] = (),
) -> ApiError:
    """The one way to build an error: code, message, and optionally the object and field causes.

    As in Kubernetes, the details of an Invalid (422) error name the object's kind, the others its resource.
    """
    causes = list(causes)
    details = None
    if resource is not None or name is not None or causes:
        kind = (resource.kind if code == 422 else resource.plural) if resource else None
        details = StatusDetails(name=name, group=resource.group if resource else None, kind=kind, causes=causes)
    status = KubeStatus(code=code, reason=reason or _REASONS.get(code, "Unknown"), message=message, details=details)
    return ApiError(status)


def not_found(resource: Resource, name: str, what: str | None = None) -> ApiError:
    qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    subject = f'{what} of {qualified} "{name}"' if what else f'{qualified} "{name}"'
    return status_error(404, f"{subject} not found", resource=resource, name=name)


def respond(status: KubeStatus) -> JSONResponse:
    return JSONResponse(status.to_wire(), status_code=status.code)


async def _on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return respond(exc.status)


def refused(exc: IntakeFailed, resource: Resource | None = None, name: str | None = None) -> ApiError:
    """The intake's refusal as a Status; with the object's resource and name in its details when known."""
    error = exc.error
    causes = [StatusCause(field=c.field, message=c.message) for c in error.causes]
    return status_error(error.code, error.message, reason=error.reason, resource=resource, name=name, causes=causes)


async def _on_intake_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntakeFailed)
    return respond(refused(exc).status)


async def _on_bus_error(_: Request, exc: Exception) -> JSONResponse:
    message = f"the bus did not answer ({type(exc).__name__}: {exc}); is nats-server running?"
    return respond(status_error(503, message).status)


async def _on_cache_behind(_: Request, exc: Exception) -> JSONResponse:
    return respond(status_error(503, str(exc)).status)


async def _on_invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    causes = [
        StatusCause(field=".".join(str(p) for p in e["loc"]), message=str(e["msg"]), reason="FieldValueInvalid")
        for e in exc.errors()
    ]
    return respond(status_error(400, "the request is not valid", causes=causes).status)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = "the server could not find the requested resource" if exc.status_code == 404 else str(exc.detail)
    return respond(status_error(exc.status_code, message).status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(IntakeFailed, _on_intake_failed)
    app.add_exception_handler(NatsError, _on_bus_error)
    app.add_exception_handler(CacheBehind, _on_cache_behind)
    app.add_exception_handler(CacheStopped, _on_cache_behind)  # a request still running as the gateway stops
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(HTTPException, _on_http_error)
