"""``fedstate``: the command-line entry point (``fedstate = fedstate.cli.main:app``).

Commands talk to the gateway over HTTP; ``up``/``down``/``demo`` manage local processes
and ``sim`` calls the simulator's control API.
"""

from __future__ import annotations

from . import demo, object_commands, stack_commands, topology_commands
from .bus_commands import bus_app
from .errors import FedstateTyper
from .options import Server, set_global_server
from .sim_commands import sim_app

app = FedstateTyper(
    name="fedstate",
    help="Federated MongoDB replica sets across Kubernetes member clusters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(server: Server = None) -> None:
    """Federated MongoDB replica sets across Kubernetes member clusters."""
    set_global_server(server)


stack_commands.register(app)
object_commands.register(app)
topology_commands.register(app)
demo.register(app)
app.add_typer(sim_app, name="sim")
app.add_typer(bus_app, name="bus")
