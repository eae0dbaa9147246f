"""``POST /login`` and ``POST /logout`` for the dashboard: a browser's EventSource cannot send an
``Authorization`` header, so the page trades its token for an HttpOnly, SameSite=Strict cookie, which the
gateway accepts in place of the header (``auth.py``). Script on the page cannot read the cookie, and no other
site's page can make the browser send it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from fedstate.api import KubeStatus
from fedstate.tokens import Role

from .auth import TOKEN_COOKIE
from .context import Gateway, get_gateway
from .errors import status_error

router = APIRouter(tags=["login"], responses={401: {"model": KubeStatus}})


class Login(BaseModel):
    token: str


class LoggedIn(BaseModel):
    """Whose token it is: its name, tenant and role."""

    name: str
    tenant: str
    role: Role


@router.post("/login", operation_id="login")
async def login(
    body: Login, request: Request, response: Response, gateway: Annotated[Gateway, Depends(get_gateway)]
) -> LoggedIn:
    """Check a token and keep it in the browser as a cookie the page's script cannot read."""
    record = gateway.tokens.authenticate(body.token.strip())
    if record is None:
        raise status_error(401, "Unauthorized: the token is not valid (unknown or revoked)")
    response.set_cookie(
        TOKEN_COOKIE,
        body.token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return LoggedIn(name=record.name, tenant=record.tenant, role=record.role)


@router.post("/logout", operation_id="logout", status_code=204)
async def logout(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
