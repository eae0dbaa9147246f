"""What every controller of one simulated cluster shares: its store, recorder, config and MongoDB host."""

from __future__ import annotations

from dataclasses import dataclass

from fedstate_sim.config import ClusterConfig, SimSettings
from fedstate_sim.kube.events import EventRecorder
from fedstate_sim.kube.store import ObjectStore
from fedstate_sim.mongo.api import MemberHost


@dataclass
class ClusterContext:
    config: ClusterConfig
    settings: SimSettings
    store: ObjectStore
    events: EventRecorder
    host: MemberHost
    down: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def vip(self) -> str:
        assert self.config.vip is not None
        return self.config.vip
