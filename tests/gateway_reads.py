"""Every read the gateway answers from the buckets, as REST paths: for tests that drive all of them."""

from __future__ import annotations

from fedstate.api.resources import MONGODB, MULTICLOUD_MONGODB


def gateway_reads(name: str, cluster: str) -> list[str]:
    """One request of each read: lists and gets of objects, an instance's placement and data plane, clusters."""
    item = MULTICLOUD_MONGODB.item_path("default", name)
    return [
        MULTICLOUD_MONGODB.collection_path("default"),
        MULTICLOUD_MONGODB.all_namespaces_path(),
        item,
        f"{item}/placement",
        f"{item}/dataplane",
        MONGODB.collection_path("default"),
        "/clusters",
        f"/clusters/{cluster}",
    ]
