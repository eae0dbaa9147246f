"""The shared package's public surface is explicit and pinned: a change to it is a deliberate act."""

from __future__ import annotations

import fedstate.bus
import fedstate.models


def test_the_bus_exports_exactly_its_public_names() -> None:
    expected = {
        "SCHEMA_VERSION", "Bucket", "Bus", "Conflict", "Entry", "InstanceKey", "InvalidValue", "KeyChange",
        "Kind", "Outcome", "StatusRecord", "StoredObject", "TypedKV", "connect", "decode", "encode",
        "ensure_layout",
    }  # fmt: skip
    assert expected == set(fedstate.bus.__all__)
    assert all(hasattr(fedstate.bus, name) for name in expected)


def test_the_models_export_every_kind_and_message() -> None:
    for name in ("MultiCloudMongoDB", "MongoDB", "ClusterSnapshot", "Placement", "DataPlaneSpec", "DataPlaneStatus"):
        assert name in fedstate.models.__all__
    assert all(hasattr(fedstate.models, name) for name in fedstate.models.__all__)
