"""The one HTTP client of the CLI: finds the gateway, calls it, and turns failures into ``CliError``s.

The gateway is ``--server`` / ``FEDSTATE_SERVER`` when given, else the ``apiUrl`` in
``./.fedstate/state.json`` written by ``fedstate up``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import ValidationError

from fedstate.api import (
    OUTCOME_HEADER,
    ClusterList,
    ClusterView,
    DataPlaneList,
    EventList,
    KubeList,
    KubeObject,
    KubeStatus,
    Resource,
)
from fedstate.models.placement import Placement

from .errors import CliError
from .state import StackPaths, load_state

SERVER_ENV = "FEDSTATE_SERVER"


class ApiFailure(CliError):
    """The gateway answered with a Kubernetes Status error."""

    def __init__(self, status: KubeStatus) -> None:
        super().__init__(status.describe())
        self.status = status


def find_server(server: str | None = None, paths: StackPaths | None = None) -> str:
    """``--server``, else ``$FEDSTATE_SERVER``, else the running stack's gateway URL."""
    server = server or os.environ.get(SERVER_ENV)
    if server:
        return server.rstrip("/")
    paths = paths or StackPaths.here()
    state = load_state(paths)
    if state is None:
        raise CliError(f"no fedstate stack found in ./{paths.root.name} — run `fedstate up` or pass --server")
    return state.api_url.rstrip("/")


def _status_of(response: httpx.Response) -> KubeStatus:
    try:
        return KubeStatus.model_validate(response.json())
    except (ValueError, ValidationError):
        return KubeStatus(code=response.status_code, message=f"HTTP {response.status_code}: {response.text[:300]}")


class Gateway:
    """Typed calls to the gateway's REST API."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise CliError(
                f"cannot connect to the fedstate gateway at {self.base_url} (connection refused) — "
                "is the stack running? (`fedstate up`)"
            ) from None
        except httpx.TimeoutException:
            raise CliError(f"the fedstate gateway at {self.base_url} did not answer in time") from None
        if response.is_error:
            raise ApiFailure(_status_of(response))
        return response

    def get_object(self, resource: Resource, namespace: str, name: str) -> KubeObject:
        return KubeObject.model_validate(self.call("GET", resource.item_path(namespace, name)).json())

    def find_object(self, resource: Resource, namespace: str, name: str) -> KubeObject | None:
        """The object, or None when the gateway says 404."""
        try:
            return self.get_object(resource, namespace, name)
        except ApiFailure as failure:
            if failure.status.code == 404:
                return None
            raise

    def list_objects(self, resource: Resource, namespace: str | None) -> KubeList:
        path = resource.collection_path(namespace) if namespace else resource.all_namespaces_path()
        return KubeList.model_validate(self.call("GET", path).json())

    def put_object(
        self, resource: Resource, body: dict[str, Any], cluster: str | None = None
    ) -> tuple[KubeObject, str]:
        """Create or replace; returns the stored object and what happened (created | updated | unchanged)."""
        metadata = body["metadata"]
        params = {"cluster": cluster} if cluster else None
        response = self.call(
            "PUT", resource.item_path(metadata["namespace"], metadata["name"]), json=body, params=params
        )
        outcome = "created" if response.status_code == 201 else response.headers.get(OUTCOME_HEADER, "updated")
        return KubeObject.model_validate(response.json()), outcome

    def delete_object(self, resource: Resource, namespace: str, name: str) -> None:
        self.call("DELETE", resource.item_path(namespace, name))

    def clusters(self) -> ClusterList:
        return ClusterList.model_validate(self.call("GET", "/clusters").json())

    def cluster(self, name: str) -> ClusterView:
        return ClusterView.model_validate(self.call("GET", f"/clusters/{name}").json())

    def placement(self, resource: Resource, namespace: str, name: str) -> Placement | None:
        try:
            response = self.call("GET", resource.item_path(namespace, name) + "/placement")
        except ApiFailure as failure:
            if failure.status.code == 404:
                return None
            raise
        return Placement.model_validate(response.json())

    def dataplane(self, resource: Resource, namespace: str, name: str) -> DataPlaneList:
        return DataPlaneList.model_validate(self.call("GET", resource.item_path(namespace, name) + "/dataplane").json())

    def events(self, namespace: str | None = None, name: str | None = None) -> EventList:
        params = {k: v for k, v in (("namespace", namespace), ("name", name)) if v}
        return EventList.model_validate(self.call("GET", "/events", params=params).json())

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False


def gateway(server: str | None = None) -> Gateway:
    return Gateway(find_server(server))
