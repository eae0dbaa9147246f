"""``fedstate bus users`` and ``fedstate bus bootstrap``: the bus users of a deployment, and its buckets.

``users`` writes what deploy/k8s needs (docs/security.md): every user's NKey seed, to be given only to its
own process (a Secret each), and the server's users — public keys and permissions only — to include in the
NATS configuration; with a JetStream domain, also each member cluster's leaf node's users (decision 0022). ``bootstrap`` creates the buckets and streams as the admin, once, before the services start.
Both load their modules only when they run, so the rest of the CLI starts without them.
"""

from pathlib import Path
from typing import Annotated

import typer

from .bus_commands import NatsOption, admin_credentials, bus_app, find_nats


@bus_app.command()
def users(
    out: Annotated[Path, typer.Option("--out", help="directory for the seeds (<user>.nk) and users.conf")],
    clusters: Annotated[list[str], typer.Option("--cluster", help="a member cluster (repeat for each)")],
    tenant: Annotated[str, typer.Option("--tenant", help="the tenant the member clusters' agents serve")] = "default",
    platforms: Annotated[
        list[str] | None,
        typer.Option("--platform-tenant", help="a tenant whose platform may ask its intake on the bus (repeat)"),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            "--jetstream-domain",
            help="the hub's JetStream domain, for member clusters behind leaf nodes: also writes each cluster's "
            "leaf node users, leaf-<cluster>-users.conf (decision 0022)",
        ),
    ] = None,
) -> None:
    """Make a seed per bus user (kept if already in --out) and the server's users.conf."""
    from fedstate.bus.credentials import write_leaf_node_users, write_server_config
    from fedstate.bus.identities import Component, every_identity

    identities = every_identity(clusters, tenant, platforms or ())
    write_server_config(out / "users.conf", out, identities, domain=domain)
    typer.echo(f"wrote {out / 'users.conf'} and the seeds of {', '.join(i.user for i in identities)}")
    if domain is None:
        return
    for leaf in (i for i in identities if i.component is Component.LEAF):
        write_leaf_node_users(out / f"{leaf.user}-users.conf", out, leaf, domain)
        typer.echo(f"wrote {out / f'{leaf.user}-users.conf'}: the users of {leaf.cluster}'s leaf node")


FederationKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--federation-key",
        help="also make the federation's sealing key ring here (random, mode 0600) unless it exists: "
        "give it to the federation alone (FEDSTATE_FEDERATION_KEY_FILE); its public keys, beside it in <name>.pub, "
        "to every agent (FEDSTATE_FEDERATION_PUBLIC_KEY_FILE)",
    ),
]


@bus_app.command()
def bootstrap(
    nats_url: NatsOption = None,
    replicas: Annotated[
        int,
        typer.Option("--replicas", min=1, max=5, help="servers keeping each bucket and stream (3 on a NATS cluster)"),
    ] = 1,
    federation_key: FederationKeyOption = None,
) -> None:
    """Create (or update) every bucket and stream, as the admin user: the services may only use them."""
    import asyncio

    from fedstate.bus.access import BusAccess
    from fedstate.bus.connection import bootstrap_layout

    asyncio.run(bootstrap_layout(find_nats(nats_url), BusAccess(admin_credentials()), replicas))
    typer.echo(f"buckets and streams are in place, each on {replicas} server{'s' if replicas > 1 else ''}")
    if federation_key is not None:
        from fedstate.sealing import ensure_key_file, write_public_keys

        ring = ensure_key_file(federation_key)
        pinned = write_public_keys(ring, federation_key)
        typer.echo(f"federation sealing key {ring.fingerprint} in {federation_key}, its public key in {pinned}")


@bus_app.command("rotate-key")
def rotate_key(
    key_file: Annotated[Path, typer.Argument(help="a sealing key ring: the federation's or a cluster's")],
    forget_earlier: Annotated[
        bool, typer.Option("--forget-earlier", help="drop the earlier keys, once everything is sealed again")
    ] = False,
) -> None:
    """Put a new key first in a sealing key ring (the earlier ones kept, to open what is sealed to them), and its
    public keys in <name>.pub (what agents pin); restart its service to use it (docs/security.md, "Rotating the
    sealing keys")."""
    from fedstate.sealing import KeyRing, write_public_keys

    ring = KeyRing.read(key_file)
    ring = ring.without_earlier_keys() if forget_earlier else ring.rotated()
    ring.write(key_file)
    pinned = write_public_keys(ring, key_file)
    typer.echo(f"{key_file}: current key {ring.fingerprint}, {len(ring.keys) - 1} earlier key(s) kept; {pinned}")
