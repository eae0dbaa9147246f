"""The authorization decision (issue 10, items 5 and 6), for every role, method and tenant asked: a request passes
exactly when its tenant is the token's (or the token is an admin's) and it only reads (or the token may write)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.tokens import Role, TokenRecord
from fedstate_gateway.auth import READ_METHODS, decide
from fedstate_gateway.errors import ApiError

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")


@given(st.sampled_from(Role), labels, st.one_of(st.none(), labels), st.sampled_from(METHODS))
def test_a_request_passes_only_within_its_tenant_and_role(
    role: Role, tenant: str, asked: str | None, method: str
) -> None:
    record = TokenRecord(id="0123456789ab", name="t", tenant=tenant, role=role, sha256="0" * 64)
    other_tenant = asked not in (None, tenant)
    allowed = (role is Role.ADMIN or not other_tenant) and (method in READ_METHODS or role is not Role.VIEWER)
    try:
        acting_on = decide(record, method, asked)
    except ApiError as refusal:
        assert not allowed
        assert (refusal.status.code, refusal.status.reason) == (403, "Forbidden")
    else:
        assert allowed
        assert acting_on == (asked or tenant)
