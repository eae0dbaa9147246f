"""The command table: each handler module registers its commands with ``@command``.

A ``CommandSpec`` says whether the command needs an authenticated connection
once users exist, and where it may run: ``always`` (admin and status commands),
``reads`` (primary, or a secondary when the client allows secondary reads) or
``primary`` (writes; the handler itself raises NotWritablePrimary).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fedstate_sim.mongo.commands.context import CommandContext

Reply = dict[str, Any]
Handler = Callable[[CommandContext, dict[str, Any]], Awaitable[Reply]]
Where = Literal["always", "reads", "primary"]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    auth: bool = True
    where: Where = "always"


COMMANDS: dict[str, CommandSpec] = {}


def command(*names: str, auth: bool = True, where: Where = "always") -> Callable[[Handler], Handler]:
    """Register ``handler`` under every name in ``names`` (aliases such as isMaster/ismaster)."""

    def register(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name] = CommandSpec(name, handler, auth, where)
        return handler

    return register
