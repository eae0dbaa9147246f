"""Simulated MongoDB members (a protocol-level simulator, not mongod).

``MongoFabric`` runs every simulated mongod of the simulator in one event loop:
the wire protocol (wire.py, server.py), commands (commands/), the replica-set
state machine (member.py, heartbeat.py, election.py, replication.py,
replset.py), SCRAM (scram.py) and member data (storage.py). ``FabricThread``
runs a fabric on a background thread for blocking callers such as tests that
use the synchronous pymongo client. See docs/simulator-mongodb.md.
"""

from fedstate_sim.mongo.api import MemberHost, MemberLaunch
from fedstate_sim.mongo.fabric import MongoFabric
from fedstate_sim.mongo.services import FabricTuning, ForcedReconfigRecord, RollbackRecord
from fedstate_sim.mongo.threaded import FabricThread

__all__ = [
    "FabricThread",
    "FabricTuning",
    "ForcedReconfigRecord",
    "MemberHost",
    "MemberLaunch",
    "MongoFabric",
    "RollbackRecord",
]
