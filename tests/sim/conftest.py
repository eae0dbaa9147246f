"""Fixtures of the simulated-Kubernetes tests: one simulated cluster per test module, through the official client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kube_support import simulated_api
from kubernetes import client


@pytest.fixture(scope="module")
def sim_api() -> Iterator[client.ApiClient]:
    """The official client on one simulated cluster (no MongoDB), shared by the tests of a module."""
    with simulated_api() as api:
        yield api


@pytest.fixture
def sim_core(sim_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(sim_api)
