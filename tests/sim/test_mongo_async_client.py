"""The fabric runs inside an asyncio program and pymongo's AsyncMongoClient works against it."""

from __future__ import annotations

from pymongo import AsyncMongoClient, WriteConcern

from fedstate_sim.mongo import MongoFabric
from fedstate_sim.mongo.testing import address, fast_settings, initiate_document, plan_members, seed_list

OCTET = 207


async def test_async_client_initiates_writes_and_reads() -> None:
    """In the caller's own event loop: initiate a 3-member set, write with w:majority, read it back."""
    fabric = MongoFabric(fast_settings())
    launches = plan_members("rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET)
    for launch in launches:
        await fabric.start_member(launch)
    direct: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(address(launches[0]), directConnection=True)
    await direct.admin.command("replSetInitiate", initiate_document("rs0", launches))
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        f"mongodb://{seed_list(launches)}/?replicaSet=rs0", serverSelectionTimeoutMS=10_000
    )
    items = client.app.get_collection("items", write_concern=WriteConcern("majority", wtimeout=5000))
    await items.insert_one({"_id": "async"})
    assert {"_id": "async"} == await items.find_one({"_id": "async"})
    await client.close()
    await direct.close()
    await fabric.close()
    assert not fabric.services.groups
