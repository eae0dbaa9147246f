"""The simulator's control-plane cluster (``--control-plane NAME``): a context of the kubeconfig, in the ready file
under ``controlPlanes``, and never among the member clusters ``fedstate up`` starts services for."""

from __future__ import annotations

from pathlib import Path

import yaml

from fedstate_sim.__main__ import build_config, parse_args, ready_document
from fedstate_sim.world import NullMemberHost, World


async def test_it_is_in_the_kubeconfig_but_not_a_member(tmp_path: Path) -> None:
    config = build_config(parse_args(["--clusters", "2", "--control-plane", "control-plane"]))
    async with World(config, host=NullMemberHost()) as world:
        kubeconfig = world.write_kubeconfig(tmp_path / "kubeconfig")
        ready = ready_document(world, kubeconfig)
    assert ["member-1", "member-2"] == list(ready["clusters"])
    assert ["control-plane"] == list(ready["controlPlanes"])
    written = yaml.safe_load(kubeconfig.read_text())
    assert ["member-1", "member-2", "control-plane"] == [c["name"] for c in written["contexts"]]
    assert "member-1" == written["current-context"]
    vips = [c.vip for c in (*config.clusters, *config.control_planes)]
    assert len(set(vips)) == 3
