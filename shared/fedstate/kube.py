"""Connecting to a member cluster's Kubernetes API with the official client (``kubernetes.aio``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

ACCEPT_JSON = {"Accept": "application/json"}
APPLY_PATCH = "application/apply-patch+yaml"
BEARER = ["BearerToken"]
HTTP_ERRORS = 400


async def api_client(kubeconfig: Path | None, context: str | None) -> client.ApiClient:
    """A client for one cluster: the kubeconfig context when given, else the in-cluster service account."""
    configuration = type.__call__(client.Configuration)  # a fresh one, not a copy of the process-wide default
    if kubeconfig is None and context is None:
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    _proxy_from_environment_once(configuration)
    return client.ApiClient(configuration=configuration)


def _proxy_from_environment_once(configuration: client.Configuration) -> None:
    """``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` honoured as client-go does, but read once, here: with the
    client's default (aiohttp's ``trust_env``) every request looked the proxy up again and read ``~/.netrc`` in
    a thread, the largest share of an idle agent's CPU after its lease."""
    target = urlsplit(configuration.host)
    if configuration.proxy is None and not urllib.request.proxy_bypass(target.hostname or ""):
        configuration.proxy = urllib.request.getproxies().get(target.scheme)
    configuration.client_session_kwargs = {"trust_env": False}


async def call_raw(api: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
    """An operation's answer as plain JSON (None when empty), through the client's ``*_without_preload_content``
    variant: deserialising into the client's models dominates the cost of a call at scale, and our readers
    take a few fields of a list, or nothing of a write's answer. Refusals raise ``ApiException`` as usual."""
    return await _answer(await getattr(api, f"{operation}_without_preload_content")(*args, **kwargs))


async def apply_raw(api: client.ApiClient, path: str, body: dict[str, Any], field_manager: str) -> Any:
    """Server-side apply ``body`` to the object at ``path`` (``/api/v1/namespaces/<ns>/services/<name>``), taking
    over conflicting fields (``force``), as ``call_raw`` answers. Straight through the client's request path (its
    auth, session and error handling), as ``api_answers``: the generated ``patch_*`` operation checks its arguments
    with pydantic and walks the body to sanitise it before encoding it, about a third of an agent's cost of a
    write when a fleet is created. The body is JSON-encoded once, by the client, and sent as is."""
    query = [("fieldManager", field_manager), ("force", True)]
    method, url, headers, _, _ = await api.param_serialize(
        "PATCH",
        path,
        query_params=query,
        header_params={**ACCEPT_JSON, "Content-Type": APPLY_PATCH},
        auth_settings=BEARER,
    )
    response = await api.call_api(method, url, headers, body)
    return await _answer(response)


async def _answer(response: Any) -> Any:
    body = await response.read()
    if response.status >= HTTP_ERRORS:
        raise ApiException(status=response.status, reason=response.reason, body=body.decode(errors="replace"))
    return json.loads(body) if body else None


async def list_raw(api: Any, operation: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Items of a list operation (e.g. ``list_node``) as plain dicts (``call_raw``)."""
    return list((await call_raw(api, operation, *args, **kwargs) or {}).get("items", []))


def api_answers(api: client.ApiClient, timeout: float) -> Callable[[], Awaitable[bool]]:
    """Does this cluster's Kubernetes API answer (``/version``)? A lease is renewed only while it does.

    Give it half the failure threshold, not one heartbeat: a loaded API server that answers in 6 s is slow,
    not gone, and must not make its cluster's members count as DOWN (it did, 220 times in a 50-cluster run);
    one that refuses or resets answers at once either way."""

    async def probe() -> bool:
        # Straight through the client's request path (its auth and session): ``VersionApi.get_code``'s argument
        # validation and the answer's deserialisation into a model were a third of the probe, which runs every
        # heartbeat in every agent and collector.
        try:
            request = await api.param_serialize("GET", "/version/", header_params=ACCEPT_JSON, auth_settings=BEARER)
            response = await api.call_api(*request, _request_timeout=timeout)
            await response.read()
        except (ApiException, aiohttp.ClientError, OSError, TimeoutError):
            return False
        return response.status < HTTP_ERRORS

    return probe
