"""The one HTTP client of the CLI: finds the gateway, calls it, and turns failures into ``CliError``s.

The gateway is ``--server`` / ``FEDSTATE_SERVER`` when given, else the ``apiUrl`` in the
``state.json`` of the stack ``fedstate.cli.context`` finds (``--stack``, ``./.fedstate``, the current context).
The token sent is ``$FEDSTATE_TOKEN``, else the admin token ``fedstate up`` left in that stack's ``.fedstate/token``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fedstate import api  # a lazy module: its models (and pydantic) load on first use
from fedstate.api.resources import OUTCOME_HEADER
from fedstate.api.views import EventView, ListView, MemberClusterView, ObjectView, PlacementView

from .context import find_stack, where_looked
from .errors import CliError
from .http import Response, TimedOut, Unreachable, request
from .state import StackPaths, recorded_api_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fedstate.api import KubeStatus, Resource, VersionInfo

SERVER_ENV = "FEDSTATE_SERVER"
TOKEN_ENV = "FEDSTATE_TOKEN"
NOT_FOUND = 404


class ApiFailure(CliError):
    """The gateway answered with a Kubernetes Status error."""

    def __init__(self, status: KubeStatus) -> None:
        super().__init__(status.describe())
        self.status = status

    @property
    def not_found(self) -> bool:
        return self.status.code == NOT_FOUND

    @property
    def text(self) -> str:
        """kubectl's form: ``Error from server (NotFound): multicloudmongodbs.middleware.fedstate.io "x" not found``."""
        reason = f" ({self.status.reason})" if self.status.reason else ""
        return f"Error from server{reason}: {self.message}"


def find_server(server: str | None = None, paths: StackPaths | None = None) -> str:
    """``--server``, else ``$FEDSTATE_SERVER``, else the gateway URL of the stack found (or of ``paths``)."""
    server = server or os.environ.get(SERVER_ENV)
    if server:
        return server.rstrip("/")
    paths = paths or find_stack()
    if paths is None or not paths.state_file.exists():
        raise CliError(f"no fedstate stack found in {where_looked()} — run `fedstate up` or pass --server")
    api_url = recorded_api_url(paths)
    if api_url is None:
        raise CliError(f"{paths.state_file} names no gateway (api_url) — run `fedstate down` and `fedstate up`")
    return api_url.rstrip("/")


def stack_token(paths: StackPaths | None) -> str | None:
    """The admin token ``fedstate up`` left in the stack at ``paths``, if any."""
    try:
        return (paths.token.read_text().strip() or None) if paths is not None else None
    except OSError:
        return None


def find_token() -> str | None:
    """``$FEDSTATE_TOKEN``, else the token of the stack found; None when there is neither."""
    return os.environ.get(TOKEN_ENV, "").strip() or stack_token(find_stack())


def _status_of(response: Response) -> KubeStatus:
    from pydantic import ValidationError  # pydantic loads on first use: the CLI starts without it

    try:
        return api.KubeStatus.model_validate(response.json())
    except (ValueError, ValidationError):
        return api.KubeStatus(code=response.status_code, message=f"HTTP {response.status_code}: {response.text[:300]}")


class Gateway:
    """Calls to the gateway's REST API, its answers read through ``fedstate.api.views``: pydantic loads only
    to read an error (a 404 that ``find`` expects is none) or ``version``, so reading commands start fast."""

    def __init__(self, base_url: str, timeout: float = 30.0, token: str | None = None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header of this client's token, for a caller's own HTTP requests."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _send(self, method: str, path: str, params: dict[str, str] | None = None, json: Any = None) -> Response:
        try:
            return request(
                self.base_url, method, path, params=params, body=json, timeout=self.timeout, token=self.token
            )
        except Unreachable:
            raise CliError(
                f"cannot connect to the fedstate gateway at {self.base_url} (connection refused) — "
                "is the stack running? (`fedstate up`)"
            ) from None
        except TimedOut:
            raise CliError(f"the fedstate gateway at {self.base_url} did not answer in time") from None

    @staticmethod
    def _success(response: Response) -> Response:
        if response.is_error:
            raise ApiFailure(_status_of(response))
        return response

    def call(self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None) -> Response:
        """The gateway's answer; ``ApiFailure`` when it is an error."""
        return self._success(self._send(method, path, params, json))

    def find(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        """The JSON at ``path``, or None when the gateway answers 404 (then its Status is not even read)."""
        response = self._send("GET", path, params)
        return None if response.status_code == NOT_FOUND else self._success(response).json()

    def get_object(self, resource: Resource, namespace: str, name: str, cluster: str | None = None) -> ObjectView:
        """The object; ``cluster`` picks among custom resources of one name in several member clusters."""
        params = {"cluster": cluster} if cluster else None
        return ObjectView(self.call("GET", resource.item_path(namespace, name), params=params).json())

    def find_object(self, resource: Resource, namespace: str, name: str) -> ObjectView | None:
        """The object, or None when the gateway says 404."""
        found = self.find(resource.item_path(namespace, name))
        return None if found is None else ObjectView(found)

    def list_objects(
        self, resource: Resource, namespace: str | None, selector: str | None = None, field_selector: str | None = None
    ) -> ListView[ObjectView]:
        """One namespace's objects (every namespace's when None), filtered by the gateway with label and field
        selectors; the list's ``metadata.resourceVersion`` is where a watch of it starts."""
        path = resource.collection_path(namespace) if namespace else resource.all_namespaces_path()
        found = (("labelSelector", selector), ("fieldSelector", field_selector))
        params = {key: value for key, value in found if value}
        return ListView(ObjectView, self.call("GET", path, params=params).json())

    def watch(
        self, path: str, since: str | None = None, params: dict[str, str | None] | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each change to the list at ``path`` after position ``since`` (a list's resourceVersion; every object
        first without one), as (event type, object), until interrupted; a refusal is an ``ApiFailure``, a lost
        gateway a ``CliError``."""
        from fedstate.api.watch import Watch, WatchRefused

        try:
            for event in Watch(self.base_url, path, resource_version=since, params=params, token=self.token):
                yield event.type, event.object
        except WatchRefused as refused:
            raise ApiFailure(api.KubeStatus.model_validate(refused.status)) from None
        except OSError as exc:
            raise CliError(f"lost the fedstate gateway at {self.base_url} while watching: {exc}") from None

    def watch_objects(
        self, resource: Resource, namespace: str | None, since: str, selector: str | None, field_selector: str | None
    ) -> Iterator[tuple[str, ObjectView]]:
        """The changes of one kind's list (of every namespace when None), filtered by the gateway."""
        path = resource.collection_path(namespace) if namespace else resource.all_namespaces_path()
        selectors: dict[str, str | None] = {"labelSelector": selector, "fieldSelector": field_selector}
        for type_, obj in self.watch(path, since, selectors):
            yield type_, ObjectView(obj)

    def put_object(
        self, resource: Resource, body: dict[str, Any], cluster: str | None = None
    ) -> tuple[ObjectView, str]:
        """Create or replace; returns the stored object and what happened (created | updated | unchanged)."""
        metadata = body["metadata"]
        params = {"cluster": cluster} if cluster else None
        response = self.call(
            "PUT", resource.item_path(metadata["namespace"], metadata["name"]), json=body, params=params
        )
        outcome = "created" if response.status_code == 201 else response.header(OUTCOME_HEADER, "updated")
        return ObjectView(response.json()), outcome

    def delete_object(self, resource: Resource, namespace: str, name: str) -> None:
        self.call("DELETE", resource.item_path(namespace, name))

    def recover_object(self, resource: Resource, namespace: str, name: str, force: bool) -> ObjectView:
        """Ask for a forced recovery of an instance that lost its voting majority (refused without ``force``)."""
        params = {"force": "true" if force else "false"}
        return ObjectView(self.call("POST", resource.item_path(namespace, name) + "/recover", params=params).json())

    def clusters(self) -> ListView[MemberClusterView]:
        return ListView(MemberClusterView, self.call("GET", "/clusters").json())

    def cluster(self, name: str) -> MemberClusterView:
        return MemberClusterView(self.call("GET", f"/clusters/{name}").json())

    def placement(self, resource: Resource, namespace: str, name: str) -> PlacementView | None:
        """The scheduler's decision, or None while there is none."""
        found = self.find(resource.item_path(namespace, name) + "/placement")
        return None if found is None else PlacementView(found)

    def events(self, namespace: str | None = None, name: str | None = None) -> ListView[EventView]:
        params = {k: v for k, v in (("namespace", namespace), ("name", name)) if v}
        return ListView(EventView, self.call("GET", "/events", params=params).json())

    def version(self) -> VersionInfo:
        return api.VersionInfo.model_validate(self.call("GET", "/version").json())

    def healthy(self) -> bool:
        try:
            return request(self.base_url, "GET", "/healthz", timeout=self.timeout).status_code == 200
        except (Unreachable, TimedOut):
            return False


def gateway(server: str | None = None) -> Gateway:
    return Gateway(find_server(server), token=find_token())


def stack_gateway(paths: StackPaths, api_url: str, timeout: float = 30.0) -> Gateway:
    """The gateway of the stack at ``paths``, called with the admin token ``fedstate up`` made there."""
    return Gateway(api_url, timeout, token=stack_token(paths))
