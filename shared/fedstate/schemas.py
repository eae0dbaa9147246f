"""Write the JSON Schema of every bus message to a folder: ``python -m fedstate.schemas docs/schemas``.

The schemas are generated from the pydantic models, so they cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from fedstate.bus.envelope import SCHEMA_VERSION
from fedstate.bus.intake import IntakeReply, IntakeRequest
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, RetainedVolumes
from fedstate.models.events import Event
from fedstate.models.lease import LeaderLease, Lease
from fedstate.models.mongodb import MongoDB
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.models.placement import Placement
from fedstate.models.reservation import ClusterReservations

MESSAGES: dict[str, type[BaseModel]] = {
    "fs-spec.StoredObject": StoredObject,
    "fs-clusters.ClusterSnapshot": ClusterSnapshot,
    "fs-placements.Placement": Placement,
    "fs-reservations.ClusterReservations": ClusterReservations,
    "fs-dataplane.DataPlaneSpec": DataPlaneSpec,
    "fs-observed.DataPlaneStatus": DataPlaneStatus,
    "fs-status.StatusRecord": StatusRecord,
    "fs-retained.RetainedVolumes": RetainedVolumes,
    "fs-leases.Lease": Lease,
    "fs-leases.LeaderLease": LeaderLease,
    "fs-local-objects.LocalObject": LocalObject,
    "FS_EVENTS.Event": Event,
    "intake.IntakeRequest": IntakeRequest,
    "intake.IntakeReply": IntakeReply,
    "object.MultiCloudMongoDB": MultiCloudMongoDB,
    "object.MongoDB": MongoDB,
}


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in MESSAGES.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$comment"] = f"fedstate bus schemaVersion {SCHEMA_VERSION}; KV values wrap this in an envelope"
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written_path)
