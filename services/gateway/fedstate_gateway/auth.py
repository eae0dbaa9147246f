"""Who is asking, and may they: every API request carries a token (``Authorization: Bearer``, or the dashboard's
cookie), whose role and tenant decide what it reaches.

A viewer reads, lists and watches its own tenant; an editor also writes there; an admin does everything, and
names another tenant with the ``Fedstate-Tenant`` header. A missing, unknown or revoked token is a 401, a token
asking for more than its role or another tenant a 403, both as Kubernetes ``Status`` objects.
"""

from __future__ import annotations

from fastapi import Request

from fedstate.api import StatusCause
from fedstate.models.base import check_dns_label
from fedstate.tokens import Role, TokenRecord, TokenStore

from .errors import status_error

TENANT_HEADER = "Fedstate-Tenant"
# Set by POST /login for the dashboard, whose EventSource cannot send an Authorization header.
TOKEN_COOKIE = "fedstate_token"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def presented_token(request: Request) -> str | None:
    """The bearer token of the ``Authorization`` header, else the login cookie's."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def authenticate(request: Request, store: TokenStore) -> TokenRecord:
    """The token's record; a 401 when there is none or it is not known (any more)."""
    token = presented_token(request)
    if token is None:
        raise status_error(401, "Unauthorized: send a token as 'Authorization: Bearer <token>' (fedstate token create)")
    record = store.authenticate(token)
    if record is None:
        raise status_error(401, "Unauthorized: the token is not valid (unknown or revoked)")
    return record


def _asked_tenant(request: Request) -> str | None:
    asked = request.headers.get(TENANT_HEADER)
    if asked is None:
        return None
    try:
        return check_dns_label(asked)
    except ValueError as exc:
        cause = StatusCause(field=f"header {TENANT_HEADER}", message=str(exc), reason="FieldValueInvalid")
        raise status_error(400, f"{TENANT_HEADER} is not a tenant name", causes=[cause]) from None


def decide(record: TokenRecord, method: str, asked_tenant: str | None) -> str:
    """The tenant a request with ``method`` acts on, asking for ``asked_tenant`` (None: the token's own); a 403 when
    the token's role or tenant does not allow it. Pure: ``tests/gateway/test_roles_decide_every_request.py``."""
    tenant = asked_tenant or record.tenant
    who = f'token "{record.name}" ({record.role} of tenant {record.tenant})'
    if tenant != record.tenant and record.role is not Role.ADMIN:
        raise status_error(403, f"Forbidden: {who} cannot reach tenant {tenant}")
    if method not in READ_METHODS and not record.role.may_write():
        raise status_error(403, f"Forbidden: {who} may read and watch, not {method}")
    return tenant


def authorize(request: Request, record: TokenRecord) -> str:
    """The tenant the request acts on; a 403 when the token's role or tenant does not allow it."""
    return decide(record, request.method, _asked_tenant(request))
