"""Command handlers of the simulated mongod, registered by name in ``registry.COMMANDS``.

Importing this package imports every handler module (each registers its
commands with ``@command``) and exposes ``dispatch``.
"""

from fedstate_sim.mongo.commands import (  # noqa: F401  (imported for their registrations)
    catalog,
    crud,
    diagnostics,
    hello,
    replset_admin,
    replset_status,
    sasl,
    users,
)
from fedstate_sim.mongo.commands.context import CommandContext, ConnectionState
from fedstate_sim.mongo.commands.dispatch import dispatch

__all__ = ["CommandContext", "ConnectionState", "dispatch"]
