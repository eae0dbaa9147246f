"""docs/security.md lists each identity's permissions exactly as the template makes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedstate.bus.identities import Component, Identity, permissions

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
# Real names, shown as the page's placeholders <c> and <t>.
CLUSTER, TENANT = "some-cluster", "some-tenant"
SHOWN = [
    Identity(Component.FEDERATION, tenant=TENANT),
    Identity(Component.SCHEDULER, tenant=TENANT),
    Identity(Component.GATEWAY, tenant=TENANT),
    Identity(Component.CRD_BRIDGE, tenant=TENANT),
    Identity(Component.AGENT, CLUSTER, TENANT),
    Identity(Component.COLLECTOR, CLUSTER, TENANT),
    Identity(Component.PLATFORM, tenant=TENANT),
]


def listing(identity: Identity, domain: str | None = None) -> str:
    """How the page shows one identity: its publish subjects in a block, then what it subscribes to."""
    return _listing(identity, domain).replace(CLUSTER, "<c>").replace(TENANT, "<t>")


def _listing(identity: Identity, domain: str | None) -> str:
    granted = permissions(identity, domain)
    answers = ", and may answer the requests it receives (`allow_responses`)" if granted.allow_responses else ""
    subscribed = ", ".join(f"`{subject}`" for subject in granted.subscribe)
    block = "\n".join(granted.publish)
    under = f" with the domain `{domain}`" if domain else ""
    return f"**`{identity.user}`**{under} — publish:\n\n```\n{block}\n```\n\nsubscribe: {subscribed}{answers}.\n"


@pytest.mark.parametrize("identity", SHOWN, ids=lambda identity: identity.component)
def test_the_page_shows_exactly_the_templates_permissions(identity: Identity) -> None:
    assert listing(identity) in SECURITY_DOC.read_text()


def test_the_page_shows_a_leaf_nodes_link_under_the_domain() -> None:
    """Only a leaf's link is granted its subjects under the domain at the hub: the page shows it so."""
    assert listing(Identity(Component.LEAF, CLUSTER, TENANT), "hub") in SECURITY_DOC.read_text()
