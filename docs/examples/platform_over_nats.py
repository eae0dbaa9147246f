"""A platform with only a NATS client (nats-py): submit a MultiCloudMongoDB on the intake subject, then follow its
status in the fs-status bucket until it reaches a state (Health by default) for the generation submitted.

    python docs/examples/platform_over_nats.py rs1.json --nats nats://127.0.0.1:4222 --tenant default

The manifest is JSON (this example depends on nothing but nats-py). See docs/platform-api.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import nats


async def follow(manifest: dict, nats_url: str, tenant: str, until: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        # 1. Submit: one request on the intake subject; the reply says what was stored, or why not.
        request = json.dumps({"op": "apply", "object": manifest}).encode()
        reply = json.loads((await nc.request(f"fedstate.v1.intake.{tenant}", request, timeout=10)).data)
        if not reply["ok"]:
            error = reply["error"]
            causes = "; ".join(f"{c['field']}: {c['message']}" for c in error.get("causes", []))
            print(f"refused ({error['code']} {error['reason']}): {error['message']} {causes}", flush=True)
            return 1
        metadata = reply["object"]["metadata"]
        namespace, name, generation = metadata["namespace"], metadata["name"], metadata["generation"]
        print(f"{reply['outcome']} {namespace}/{name} generation {generation}", flush=True)

        # 2. Follow: the status is the value of one key of fs-status; a KV watch gets it now and at each change.
        kv = await nc.jetstream().key_value("fs-status")
        watcher = await kv.watch(f"{tenant}.{namespace}.multicloudmongodb.{name}")
        try:
            async for entry in watcher:
                if entry is None or entry.value is None or entry.operation in ("DEL", "PURGE"):
                    continue  # the end of the current values, or a status removed with its object
                status = json.loads(entry.value)["data"].get("multicloud") or {}
                state, observed = status.get("state", ""), status.get("observedGeneration", 0)
                print(f"{state} (generation {observed})", flush=True)
                if state == until and observed >= generation:
                    return 0
        finally:
            await watcher.stop()
    finally:
        await nc.close()
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="a MultiCloudMongoDB as JSON")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="the stack's NATS server")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--until", default="Health", help="the state to wait for")
    args = parser.parse_args()
    manifest = json.loads(args.manifest.read_text())
    return asyncio.run(follow(manifest, args.nats, args.tenant, args.until))


if __name__ == "__main__":
    sys.exit(main())
