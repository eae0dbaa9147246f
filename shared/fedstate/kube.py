"""Connecting to a member cluster's Kubernetes API with the official client (``kubernetes.aio``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes.aio import client, config


async def api_client(kubeconfig: Path | None, context: str | None) -> client.ApiClient:
    """A client for one cluster: the kubeconfig context when given, else the in-cluster service account."""
    if kubeconfig is None and context is None:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration=configuration)
    return await config.new_client_from_config(
        config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
    )


async def list_raw(call: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Items of a list call as plain dicts: skips model deserialisation, which dominates at scale."""
    response = await call(*args, _preload_content=False, **kwargs)
    body = json.loads(await response.read())
    return list(body.get("items", []))
