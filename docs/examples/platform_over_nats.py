"""A platform with only a NATS client (nats-py): submit a MultiCloudMongoDB on the intake subject, then follow its
status in the fs-status bucket until it reaches a state (Health by default) for the generation submitted.

    python docs/examples/platform_over_nats.py rs1.json --nats nats://127.0.0.1:4222 --tenant default \
        --federation-public-key .fedstate/sealing-keys/federation.pub

The manifest is JSON. This example depends on nothing but nats-py, and PyNaCl when the manifest holds a password:
a password goes on the bus only sealed to the federation's public key (docs/bus-contract.md). See
docs/platform-api.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from pathlib import Path

import nats


# The password fields of each kind, and what the intake takes in them: a box sealed to the federation's key.
SECRET_FIELDS = {
    "MultiCloudMongoDB": [("auth", "rootPasswd"), ("imageSetting", "imagePullSecret", "password")],
    "MongoDB": [("rootPassword",), ("imagePullSecret", "password")],
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal_passwords(manifest: dict, tenant: str, public_keys: Path | None) -> dict:
    """Each password of ``manifest`` replaced by ``sealed:<base64 JSON {sender, recipient, box}>``: a NaCl box from a
    key made here to the federation's current key (the first line of federation.pub) holding ``{"binding": ...,
    "payload": password}``, bound to this tenant, kind, namespace, name and field so that it opens for no other."""
    metadata = manifest.get("metadata", {})
    for path in SECRET_FIELDS.get(manifest.get("kind"), []):
        parent = manifest.get("spec")
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        value = parent.get(path[-1]) if isinstance(parent, dict) else None
        field = ".".join(("spec", *path))
        if not isinstance(value, str) or value == "<redacted>" or value.startswith("sealed:"):
            continue
        if public_keys is None:
            raise SystemExit(f"{field} holds a password: give --federation-public-key to seal it to")
        from nacl.public import Box, PrivateKey, PublicKey

        recipient = public_keys.read_text().split()[0]
        sender = PrivateKey.generate()
        namespace = metadata.get("namespace") or "default"
        binding = f"intake:{tenant}/{manifest['kind']}/{namespace}/{metadata.get('name')}/{field}"
        plaintext = json.dumps({"binding": binding, "payload": value}, sort_keys=True).encode()
        box = Box(sender, PublicKey(base64.b64decode(recipient))).encrypt(plaintext)
        sealed = {"sender": b64(bytes(sender.public_key)), "recipient": recipient, "box": b64(box)}
        parent[path[-1]] = "sealed:" + b64(json.dumps(sealed).encode())
    return manifest


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
    parser.add_argument(
        "--federation-public-key", type=Path, help="federation.pub, to seal the manifest's passwords to"
    )
    args = parser.parse_args()
    manifest = seal_passwords(json.loads(args.manifest.read_text()), args.tenant, args.federation_public_key)
    return asyncio.run(follow(manifest, args.nats, args.tenant, args.until))


if __name__ == "__main__":
    sys.exit(main())
