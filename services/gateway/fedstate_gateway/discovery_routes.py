"""``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>`` and ``/apis/<group>/<version>``: what kubectl and the
official clients read to find the kinds (``fedstate.api.discovery`` builds the bodies)."""

from __future__ import annotations

from fastapi import APIRouter

from fedstate.api import discovery
from fedstate.api.discovery import APIGroup, APIGroupList, APIResourceList, APIVersions
from fedstate.api.resources import CORE_VERSION

from .errors import status_error

router = APIRouter(tags=["discovery"], responses={404: {"model": discovery.APIResourceList}})


def _not_served(path: str) -> Exception:
    return status_error(404, f"the server could not find the requested resource ({path})", reason="NotFound")


@router.get("/api", operation_id="getCoreAPIVersions", response_model_exclude_none=True)
async def core_versions() -> APIVersions:
    return discovery.core_versions()


@router.get(f"/api/{CORE_VERSION}", operation_id="getCoreAPIResources", response_model_exclude_none=True)
async def core_resources() -> APIResourceList:
    found = discovery.resource_list(CORE_VERSION)
    assert found is not None
    return found


@router.get("/apis", operation_id="getAPIVersions", response_model_exclude_none=True)
async def api_groups() -> APIGroupList:
    return APIGroupList(groups=discovery.groups())


@router.get("/apis/{group}", operation_id="getAPIGroup", response_model_exclude_none=True)
async def api_group(group: str) -> APIGroup:
    found = discovery.group(group)
    if found is None:
        raise _not_served(f"/apis/{group}")
    return found


@router.get("/apis/{group}/{version}", operation_id="getAPIResources", response_model_exclude_none=True)
async def api_resources(group: str, version: str) -> APIResourceList:
    found = discovery.resource_list(f"{group}/{version}")
    if found is None:
        raise _not_served(f"/apis/{group}/{version}")
    return found
