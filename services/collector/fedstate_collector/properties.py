"""This member cluster's ``ClusterProperty`` objects (``about.k8s.io``, KEP-2149), followed, not listed again.

An informer on the CRD ``clusterproperties.about.k8s.io`` (one object, by name) says whether the API is installed
and which version it serves; an informer on the properties of that version holds them. A CRD installed, upgraded
from v1alpha1 to v1beta1 or removed while the collector runs starts, moves or stops the properties' informer at
once, and every change of a property reaches the next snapshot at once: nothing is polled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kubernetes.aio import client
from kubernetes.aio.client import ApiextensionsV1Api, CustomObjectsApi

from fedstate.informer import Informer, KubeDict

log = logging.getLogger(__name__)
GROUP, PLURAL = "about.k8s.io", "clusterproperties"
# Preferred first: v1beta1 is the current version, v1alpha1 what older installs serve.
VERSIONS = ("v1beta1", "v1alpha1")
CRD_NAME = f"{PLURAL}.{GROUP}"
FORBIDDEN = "403"


def served_version(definition: KubeDict | None) -> str | None:
    """The version to read the properties in: the first of ``VERSIONS`` the CRD serves; None without one."""
    if definition is None:
        return None
    served = {v.get("name") for v in (definition.get("spec") or {}).get("versions") or [] if v.get("served")}
    return next((version for version in VERSIONS if version in served), None)


class ClusterProperties:
    """The properties as their informers hold them; ``on_change`` is called whenever what ``objects`` returns
    may have changed (a property, the API installed or removed)."""

    def __init__(self, api: client.ApiClient, on_change: Callable[[], None]) -> None:
        self._custom = CustomObjectsApi(api)
        self._on_change = on_change
        self._definition = Informer(
            ApiextensionsV1Api(api),
            "list_custom_resource_definition",
            "",
            lambda _: self._follow_version(),
            field_selector=f"metadata.name={CRD_NAME}",
            on_failure=lambda why: self._failed(f"customresourcedefinitions ({CRD_NAME})", why),
        )
        self._version: str | None = None
        self._properties: Informer | None = None
        self._previous: Informer | None = None  # the last version's, answering until the new one has listed
        self._following: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()  # informers of a version no longer served, ending
        self._forbidden_logged = False

    @property
    def version(self) -> str | None:
        """The version read, None while the API is not installed (or not known to be yet)."""
        return self._version

    def objects(self) -> list[KubeDict]:
        """The properties; while a new version's informer has not listed them yet, the last version's (the same
        objects, served in another version): a move from v1alpha1 to v1beta1 must not publish a cluster without
        its labels for a moment."""
        current = self._properties
        if current is None:
            return []
        if not current.tried.is_set() and self._previous is not None:
            return self._previous.objects()
        return current.objects()

    async def wait_settled(self) -> None:
        """Until the first look at the API has ended: the properties listed, or known not to be readable (not
        installed, forbidden). A snapshot published before would lack labels it is about to get."""
        await self._definition.tried.wait()
        if self._properties is not None:
            await self._properties.tried.wait()

    async def run(self) -> None:
        try:
            await self._definition.run()
        finally:
            await self._stop_following()

    def _follow_version(self) -> None:
        version = served_version(self._definition.get("", CRD_NAME))
        if version == self._version:
            return
        log.info("following ClusterProperty objects", extra={"version": version or "none: the API is not installed"})
        stopping = self._following
        if stopping is not None:
            stopping.cancel()
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)
        if version is None:  # the API is gone: so are its properties
            self._previous = None
        elif self._properties is not None and self._properties.tried.is_set():
            self._previous = self._properties
        self._version, self._properties, self._following = version, None, None
        if version is not None:
            self._properties = Informer(
                self._custom,
                "list_cluster_custom_object",
                "",
                lambda _: self._on_change(),
                args=(GROUP, version, PLURAL),
                on_failure=lambda why: self._failed(f"{CRD_NAME}/{version}", why),
            )
            self._following = asyncio.create_task(self._properties.run(), name=f"clusterproperties-{version}")
        self._on_change()

    def _failed(self, kind: str, why: str) -> None:
        """A refusal by RBAC is a setup to fix, told once as a warning; anything else the informer logs."""
        if why.startswith(FORBIDDEN) and not self._forbidden_logged:
            log.warning("may not read %s; cluster labels come from nodes and settings", kind, extra={"error": why})
            self._forbidden_logged = True

    async def _stop_following(self) -> None:
        if self._following is not None:
            self._following.cancel()
        await asyncio.gather(*self._stopping, *filter(None, [self._following]), return_exceptions=True)
