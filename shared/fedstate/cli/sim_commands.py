"""``fedstate sim ...``: fault injection through the simulator's control API (URL from the stack's state)."""

from typing import Annotated

import typer

from .context import find_stack, where_looked
from .errors import CliError, FedstateTyper
from .render import print_lines
from .simulator import SimControl

sim_app = FedstateTyper(help="Inject faults into the simulated member clusters.", no_args_is_help=True)


def control() -> SimControl:
    paths = find_stack()
    from .records import load_state  # pydantic loads only when a command needs the stack's records

    state = load_state(paths) if paths else None
    if state is None or not state.sim_control_url:
        raise CliError(f"no fedstate stack found in {where_looked()} — run `fedstate up` first")
    return SimControl(state.sim_control_url)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


@sim_app.command()
def fail(cluster: str) -> None:
    """Take a member cluster down: its API and its members stop answering."""
    control().post(f"/sim/clusters/{cluster}/fail")
    print_lines(f"cluster {cluster} failed")


@sim_app.command()
def recover(cluster: str) -> None:
    """Bring a failed member cluster back."""
    control().post(f"/sim/clusters/{cluster}/recover")
    print_lines(f"cluster {cluster} recovered")


@sim_app.command()
def partition(
    clusters: Annotated[str, typer.Argument(help="A[,B]: one side of the partition")],
    from_: Annotated[str, typer.Option("--from", help="C[,D]: the other side")],
) -> None:
    """Cut the network between two groups of clusters."""
    side_a, side_b = _names(clusters), _names(from_)
    control().post("/sim/partition", {"clusters": side_a, "from": side_b})
    print_lines(f"partitioned {','.join(side_a)} from {','.join(side_b)}")


@sim_app.command()
def heal() -> None:
    """Remove every partition."""
    control().post("/sim/heal")
    print_lines("all partitions healed")


@sim_app.command("kill-pod")
def kill_pod(cluster: str, namespace: str, pod: str) -> None:
    """Kill one pod (its mongod member) in a member cluster."""
    control().post(f"/sim/clusters/{cluster}/namespaces/{namespace}/pods/{pod}/kill")
    print_lines(f"pod {namespace}/{pod} in {cluster} killed")
