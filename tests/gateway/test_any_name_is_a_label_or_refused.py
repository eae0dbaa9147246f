"""Any name thrown at the REST API (dots, wildcards, blanks, unicode, empty, over-long): a create stores it
exactly when it is a DNS-1123 label; any other is 422 with the field path and nothing is stored; a read or
delete of it is 404 and touches nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fedstate.api import MULTICLOUD_MONGODB
from tests.dns_labels import is_label

NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True) | st.text(
    alphabet="ab09-._A *>\nü/%", max_size=70
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES)
@example(name="*")
@example(name=">")
@example(name="a" * 64)
@example(name="")
@example(name=".")  # a URL's dot segment: the client reads the collection, so only the create is checked
async def test_a_name_is_stored_exactly_when_it_is_a_label(
    api: httpx.AsyncClient, mcm_body: Callable[..., dict[str, Any]], name: str
) -> None:
    collection = MULTICLOUD_MONGODB.collection_path("default")
    before = {o["metadata"]["name"] for o in (await api.get(collection)).json()["items"]}
    created = await api.post(collection, json=mcm_body(name))
    after = {o["metadata"]["name"] for o in (await api.get(collection)).json()["items"]}
    if is_label(name):
        assert created.status_code in (201, 409), created.json()
        assert name in after
        return
    assert 422 == created.status_code, created.json()
    assert ["metadata.name"] == [c["field"] for c in created.json()["details"]["causes"]]
    assert before == after
    if name not in ("", ".", "..") and "/" not in name:  # a path segment of its own (URLs drop dot segments)
        path = MULTICLOUD_MONGODB.item_path("default", quote(name, safe=""))
        assert 404 == (await api.get(path)).status_code
        assert 404 == (await api.delete(path)).status_code
        assert after == {o["metadata"]["name"] for o in (await api.get(collection)).json()["items"]}
