"""``fedstate up`` and ``fedstate down``: the local stack's lifecycle, in the foreground or detached.

``up`` makes the new stack the current context (``fedstate.cli.context``), so later commands find it
from any directory; ``down`` stops the stack the same lookup finds and clears the context. The
process-starting code (``.stack``, which imports nats) loads only when one of these runs.
"""

import contextlib
import gc
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from .context import find_stack, forget, named_stack, remember, where_looked
from .errors import CliError
from .processes import exited
from .render import print_lines, print_table
from .simulator import SimOptions
from .state import DEFAULT_API_PORT, StackPaths, forget_state

if TYPE_CHECKING:
    from .stack import Stack, UpOptions

STOP_DETACHED = "stop it with `fedstate down`"
STOP_FOREGROUND = "press Ctrl-C to stop"


def print_summary(stack: "Stack", footer: str) -> None:
    state = stack.state
    print_lines("fedstate stack is ready (member clusters are simulated)", "")
    print_table(
        ["", ""],
        [
            ["API", state.api_url],
            ["dashboard", f"{state.api_url}/"],
            ["NATS", state.nats_url],
            ["kubeconfig", state.kubeconfig],
            ["logs", state.log_dir],
            *(
                [["Prometheus", f"{state.prometheus_url} (alerts: {state.prometheus_url}/alerts)"]]
                if state.prometheus_url
                else []
            ),
        ],
        header=False,
    )
    print_lines("")
    print_table(["CLUSTER", "VIP", "KUBERNETES API"], [[c.name, c.vip, c.api_url] for c in state.clusters])
    print_lines("")
    print_table(["SERVICE", "METRICS"], [[p.name, p.metrics_url] for p in state.processes if p.metrics_url])
    print_lines(f"(Prometheus file_sd targets: {stack.paths.prometheus_targets})", "", footer)


def run_until_signalled(stack: "Stack") -> None:
    """Block until SIGINT/SIGTERM, reporting any process that dies meanwhile; then stop everything."""
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    reported: set[str] = set()
    try:
        while not stopping.wait(0.5):
            for name, code in exited(stack.processes):
                if name not in reported:
                    reported.add(name)
                    print_lines(f"warning: {name} exited with code {code}; see {stack.paths.log(name)}")
    finally:
        # A second Ctrl-C or SIGTERM (make and timeout both forward one) must not cut the stop short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        print_lines("stopping the stack ...")
        report_stopped(*stack.stop())
        forget_state(stack.paths)
        forget(stack.paths)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # Nothing is left to do: exit without the final walk over the heap (seconds on a busy machine),
        # as the services do (fedstate.service.exit_without_collecting).
        gc.freeze()


def report_stopped(terminated: list[str], killed: list[str]) -> None:
    print_lines(
        f"stopped {len(terminated) + len(killed)} processes"
        + (f": {', '.join(terminated + killed)}" if terminated or killed else "")
    )
    if killed:
        print_lines(f"(killed after the timeout: {', '.join(killed)})")


def up(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="return once ready; stop later with `fedstate down`")
    ] = False,
    clusters: Annotated[int, typer.Option("--clusters", min=1, help="number of simulated member clusters")] = 3,
    sim_config: Annotated[
        Path | None, typer.Option("--sim-config", exists=True, dir_okay=False, help="simulator YAML")
    ] = None,
    api_port: Annotated[int, typer.Option("--api-port", help="port of the REST gateway")] = DEFAULT_API_PORT,
    pod_startup_seconds: Annotated[float | None, typer.Option("--pod-startup-seconds", min=0)] = None,
    election_timeout_millis: Annotated[int | None, typer.Option("--election-timeout-millis", min=50)] = None,
    vip_octet: Annotated[
        int | None, typer.Option("--vip-octet", min=0, max=255, help="VIPs are 127.<octet>.<k>.1 (default: first free)")
    ] = None,
    sim_member_processes: Annotated[
        int,
        typer.Option(
            "--sim-member-processes",
            min=1,
            help="run the simulated mongods in N processes (about 4 open files each; for fleets of thousands)",
        ),
    ] = 1,
    ready_timeout: Annotated[float, typer.Option("--ready-timeout", help="seconds to wait for readiness")] = 120.0,
    clusters_per_process: Annotated[
        int,
        typer.Option(
            "--clusters-per-process",
            min=1,
            help="simulated clusters whose collectors, and agents, share a process (for 50 or 100 clusters)",
        ),
    ] = 1,
    with_prometheus: Annotated[
        bool,
        typer.Option(
            "--with-prometheus",
            help="also run Prometheus (on PATH) scraping the stack with the alert rules of deploy/prometheus/",
        ),
    ] = False,
    replicas: Annotated[
        int,
        typer.Option(
            "--replicas", min=1, help="processes of each central service (scheduler, federation, gateway); one leads"
        ),
    ] = 1,
    nats_cluster: Annotated[
        int,
        typer.Option(
            "--nats-cluster",
            min=1,
            help="run N clustered nats-servers (every bucket and stream on min(3, N) of them) instead of one",
        ),
    ] = 1,
    leaf_nodes: Annotated[
        bool,
        typer.Option(
            "--leaf-nodes",
            help="run a NATS leaf node per member cluster, which its collector and agent connect to, linked to a hub "
            "whose JetStream has the domain `hub` (as deploy/k8s; decision 0022)",
        ),
    ] = False,
) -> None:
    """Start a local stack: NATS, N simulated member clusters with collector and agent, scheduler, federation, gateway."""
    from .stack import UpOptions

    sim = SimOptions(
        clusters,
        sim_config,
        pod_startup_seconds,
        election_timeout_millis,
        vip_octet,
        member_processes=sim_member_processes,
    )
    stack = start(
        UpOptions(
            sim=sim,
            api_port=api_port,
            ready_timeout=ready_timeout,
            clusters_per_process=clusters_per_process,
            with_prometheus=with_prometheus,
            replicas=replicas,
            nats_servers=nats_cluster,
            leaf_nodes=leaf_nodes,
        )
    )
    print_summary(stack, STOP_DETACHED if detach else STOP_FOREGROUND)
    if not detach:
        run_until_signalled(stack)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM during start-up unwinds like Ctrl-C, so what was started is stopped again."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def start(options: "UpOptions") -> "Stack":
    """Bring a stack up in ``--stack DIR`` (or ``$FEDSTATE_STACK``), else in ./.fedstate; make it the current context."""
    from .stack import bring_up

    paths = named_stack() or StackPaths.here()
    with sigterm_interrupts():
        stack = bring_up(paths, options, progress=lambda step: print_lines(f"... {step}"))
    remember(paths)
    return stack


def down(
    timeout: Annotated[float, typer.Option("--timeout", help="seconds between SIGTERM and SIGKILL")] = 10.0,
) -> None:
    """Stop every process of the stack `fedstate up` started (the one found as for every command)."""
    from .stack import bring_down

    paths = find_stack()
    stopped = bring_down(paths, timeout) if paths else None
    if paths is None or stopped is None:
        raise CliError(f"no fedstate stack found in {where_looked()} — nothing to stop")
    forget(paths)
    report_stopped(*stopped)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
