"""``fedstate demo`` (what ``make demo`` runs): a 3-cluster stack, the sample instance, its topology.

Starts the stack with fast simulated pods and elections, applies the sample (a ConfigMap
and a 5-member MultiCloudMongoDB), waits for Health, prints which member is PRIMARY in
which cluster, and keeps everything running until Ctrl-C.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedstate.api import MULTICLOUD_MONGODB

from . import manifests
from .client import stack_gateway
from .context import forget
from .describe import print_topology
from .memberaccess import source_file
from .object_commands import apply_manifest
from .render import print_lines
from .simulator import SimOptions
from .stack_commands import STOP_FOREGROUND, print_summary, run_until_signalled, start
from .state import DEFAULT_API_PORT, forget_state
from .waiting import WaitFor, wait_until

if TYPE_CHECKING:
    from .stack import Stack

SAMPLE = Path("deploy/examples/multicloudmongodb-sample.yaml")
DEMO_SIM = SimOptions(clusters=3, pod_startup_seconds=0, election_timeout_millis=2000)


def sample_path() -> Path:
    """The sample in the working directory, else in the source tree this package was installed from."""
    return source_file(SAMPLE)


def deploy_sample(stack: "Stack", sample: Path, timeout: float) -> None:
    client = stack_gateway(stack.paths, stack.state.api_url)
    documents = manifests.load(str(sample))
    for manifest in documents:
        apply_manifest(client, manifest)
    instance = next(m for m in documents if m.resource is MULTICLOUD_MONGODB)
    print_lines(f"... waiting up to {timeout:g}s for {instance.name} to be Health")
    obj = wait_until(
        lambda: client.find_object(MULTICLOUD_MONGODB, instance.namespace, instance.name),
        WaitFor("state", "Health"),
        timeout,
    )
    assert obj is not None
    print_lines("")
    print_topology(obj)


def demo(
    api_port: Annotated[int, typer.Option("--api-port")] = DEFAULT_API_PORT,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="manifests to apply")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for Health")] = 180.0,
    with_prometheus: Annotated[
        bool, typer.Option("--with-prometheus", help="also run Prometheus with the alert rules (as `up`)")
    ] = False,
) -> None:
    """Run the demo: up (3 simulated clusters), apply the sample, wait for Health, show the topology."""
    from .stack import UpOptions

    stack = start(UpOptions(sim=DEMO_SIM, api_port=api_port, with_prometheus=with_prometheus))
    print_summary(stack, footer="applying the sample ...")
    try:
        deploy_sample(stack, file or sample_path(), timeout)
    except BaseException:
        print_lines("stopping the stack ...")
        stack.stop()
        forget_state(stack.paths)
        forget(stack.paths)
        raise
    print_lines("", STOP_FOREGROUND)
    run_until_signalled(stack)


def register(app: typer.Typer) -> None:
    app.command()(demo)
