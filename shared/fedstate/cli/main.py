"""``fedstate``: the command-line entry point (``fedstate = fedstate.cli.main:app``).

Commands talk to the gateway over HTTP; ``up``/``down``/``demo`` manage local processes
and ``sim`` calls the simulator's control API. Importing this module (and so ``--help``,
``get``, ``describe``) loads neither nats, the Kubernetes client, pymongo nor FastAPI: the
modules that need them are imported inside the commands that use them.

The modules that define commands do without ``from __future__ import annotations``: typer reads
every command's signature at each start, and string annotations cost it an ``eval`` apiece (30 ms
of ``--help``). Names imported only for type checking are quoted there instead.
"""

from typing import Annotated

import typer

from . import demo, object_commands, stack_commands, topology_commands, trace_command
from .bus_commands import bus_app
from .bus_users import bootstrap, users  # noqa: F401  # they join bus_app
from .context import STACK_ENV, set_global_stack
from .errors import FedstateTyper
from .options import Server, set_global_server
from .sim_commands import sim_app
from .token_commands import token_app
from .version import print_client_version, version

HELP = (
    "Federated MongoDB replica sets across Kubernetes member clusters.\n\n"
    "Which stack a command talks to, first match wins: --server URL or $FEDSTATE_SERVER (a gateway); "
    f"--stack DIR or ${STACK_ENV}; ./.fedstate of the current directory; the current context that "
    "`fedstate up` records in $FEDSTATE_HOME/current (else $XDG_CONFIG_HOME/fedstate/current, "
    "else ~/.config/fedstate/current)."
)

app = FedstateTyper(name="fedstate", help=HELP, no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def main(
    server: Server = None,
    stack: Annotated[
        str | None, typer.Option("--stack", help=f"the stack in DIR/.fedstate (default: ${STACK_ENV}, see above)")
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=print_client_version, help="the client's version")
    ] = False,
) -> None:
    set_global_server(server)
    set_global_stack(stack)


stack_commands.register(app)
object_commands.register(app)
topology_commands.register(app)
trace_command.register(app)
demo.register(app)
app.command()(version)
app.add_typer(sim_app, name="sim")
app.add_typer(bus_app, name="bus")
app.add_typer(token_app, name="token")
