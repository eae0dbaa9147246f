"""``fedstate bus ...``: talk to NATS directly, as the ``nats`` CLI would, with nothing more to install.

``req`` sends one request (an intake request, say) and prints the reply; ``kv ls|get|history``
read the buckets; ``deadletters`` lists (``--value``: with each value as kept) and ``deadletters purge`` drops
the values services could not read. The server is ``--nats``, else ``$FEDSTATE_NATS_URL``, else the stack in
``./.fedstate``; the command connects as the admin user, whose seed is in ``$FEDSTATE_NATS_CREDENTIALS``
(a directory of ``<user>.nk``), else the stack's ``.fedstate/nats-credentials``. The NATS client is
imported only when a command runs, so the rest of the CLI starts without it.
"""

import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .errors import CliError, FedstateTyper
from .state import StackPaths

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.kv import KeyValue

    from fedstate.bus.deadletters import KeptLetter

NATS_ENV = "FEDSTATE_NATS_URL"
CREDENTIALS_ENV = "FEDSTATE_NATS_CREDENTIALS"
T = TypeVar("T")

bus_app = FedstateTyper(help="Requests and bucket reads straight on the bus (NATS), like the nats CLI.")
kv_app = FedstateTyper(help="Read the JetStream key-value buckets (fs-spec, fs-status, ...).", no_args_is_help=True)
bus_app.add_typer(kv_app, name="kv")
dead_letters_app = FedstateTyper(
    help="The values services could not read (FS_DEAD_LETTERS): list them, drop them once fixed.",
    invoke_without_command=True,
)
bus_app.add_typer(dead_letters_app, name="deadletters")

NatsOption = Annotated[
    str | None, typer.Option("--nats", help=f"NATS URL (default: ${NATS_ENV}, else the stack in ./.fedstate)")
]


def find_nats(url: str | None) -> str:
    """``--nats``, else ``$FEDSTATE_NATS_URL``, else the NATS of the stack in ./.fedstate."""
    url = url or os.environ.get(NATS_ENV)
    if url:
        return url
    paths = StackPaths.here()
    from .records import load_state  # pydantic loads only when a command needs the stack's records

    state = load_state(paths)
    if state is None or not state.nats_url:
        raise CliError(f"no fedstate stack found in ./{paths.root.name} — run `fedstate up` or pass --nats")
    return state.nats_url


def admin_credentials() -> "Path | None":
    """The directory holding the admin's seed: ``$FEDSTATE_NATS_CREDENTIALS``, else the stack's when it has one;
    None to connect as nobody (an open NATS)."""
    from pathlib import Path

    from fedstate.bus.access import seed_path
    from fedstate.bus.identities import Component, Identity

    named = os.environ.get(CREDENTIALS_ENV)
    if named:
        return Path(named)
    stack = StackPaths.here().nats_credentials
    return stack if seed_path(stack, Identity(Component.ADMIN)).exists() else None


def admin_options() -> dict[str, Any]:
    """nats-py's connect options as the admin (see ``admin_credentials``)."""
    from fedstate.bus.access import BusAccess
    from fedstate.bus.identities import Component, Identity

    return BusAccess(admin_credentials()).options(Identity(Component.ADMIN))


async def _quiet(_: Exception) -> None:
    """Connection errors end the command with one message; nats-py would print each try's traceback."""


def on_bus(url: str | None, work: Callable[["Client"], Awaitable[T]]) -> T:
    """Connect (failing fast), run ``work``, close."""
    import nats

    from fedstate.bus.access import nats_servers

    async def session() -> T:
        address = find_nats(url)
        try:
            nc = await nats.connect(
                nats_servers(address),
                connect_timeout=3,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=_quiet,
                **admin_options(),
            )
        except Exception as exc:
            raise CliError(
                f"cannot reach NATS at {address} ({exc or type(exc).__name__}) — is nats-server running?"
            ) from None
        try:
            return await work(nc)
        finally:
            await nc.close()

    import asyncio  # loaded on first use: the CLI starts without it

    return asyncio.run(session())


def _payload(data: str | None) -> bytes:
    """The request body: the argument, or standard input when it is ``-`` or missing."""
    return (sys.stdin.read() if data in (None, "-") else str(data)).encode()


@bus_app.command()
def req(
    subject: Annotated[str, typer.Argument(help="subject, e.g. fedstate.v1.intake.default")],
    data: Annotated[str | None, typer.Argument(help="request body; '-' or nothing reads standard input")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the reply")] = 10.0,
    nats_url: NatsOption = None,
) -> None:
    """Send one request and print the reply, as `nats req SUBJECT DATA` does."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    async def ask(nc: "Client") -> bytes:
        try:
            return (await nc.request(subject, _payload(data), timeout=timeout)).data
        except NoRespondersError:
            raise CliError(f"nothing answers on {subject} (is the federation service running?)") from None
        except NatsTimeout:
            raise CliError(f"no reply on {subject} within {timeout:g}s") from None

    typer.echo(on_bus(nats_url, ask).decode(errors="replace"))


async def _bucket(nc: "Client", bucket: str) -> "KeyValue":
    from nats.js.errors import BucketNotFoundError

    try:
        return await nc.jetstream().key_value(bucket)
    except BucketNotFoundError:
        raise CliError(f"bucket {bucket} not found") from None


def _value(raw: bytes | None) -> Any:
    """A stored value as JSON when it is JSON (every fedstate value is), else as text."""
    text = (raw or b"").decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _revision(msg: "Msg") -> dict[str, Any]:
    from fedstate.bus.names import KV_OPERATION

    created = msg.metadata.timestamp
    return {
        "revision": msg.metadata.sequence.stream,
        "operation": (msg.headers or {}).get(KV_OPERATION, "PUT"),
        "created": created.isoformat() if isinstance(created, datetime) else created,
        "value": _value(msg.data),
    }


@kv_app.command("ls")
def kv_ls(bucket: str, nats_url: NatsOption = None) -> None:
    """Print every key of a bucket, one per line."""
    from fedstate.bus.streams import live_keys

    async def keys(nc: "Client") -> list[str]:
        await _bucket(nc, bucket)
        return await live_keys(nc.jetstream(), bucket)

    for name in on_bus(nats_url, keys):
        typer.echo(name)


@kv_app.command("get")
def kv_get(bucket: str, key: str, nats_url: NatsOption = None) -> None:
    """Print the latest value of a key (the stored JSON envelope)."""
    from nats.js.errors import KeyNotFoundError

    async def get(nc: "Client") -> bytes:
        try:
            return (await (await _bucket(nc, bucket)).get(key)).value or b""
        except KeyNotFoundError:
            raise CliError(f'key "{key}" not found in bucket {bucket}') from None

    typer.echo(on_bus(nats_url, get).decode(errors="replace"))


@kv_app.command("history")
def kv_history(bucket: str, key: str, nats_url: NatsOption = None) -> None:
    """Print the kept revisions of a key, oldest first, one JSON document per line (deletes included)."""
    from fedstate.bus.streams import key_history

    async def history(nc: "Client") -> list[str]:
        await _bucket(nc, bucket)  # a missing bucket is named as such, not as a missing key
        revisions = [json.dumps(_revision(msg)) async for msg in key_history(nc.jetstream(), bucket, key)]
        if not revisions:
            raise CliError(f'key "{key}" not found in bucket {bucket}')
        return revisions

    for line in on_bus(nats_url, history):
        typer.echo(line)


ReaderOption = Annotated[
    str | None, typer.Option("--reader", help="one reader's only (its bus user, e.g. agent-member-1)")
]


@dead_letters_app.callback()
def dead_letters_ls(
    context: typer.Context,
    reader: ReaderOption = None,
    value: Annotated[bool, typer.Option("--value", help="each value as kept, too")] = False,
    nats_url: NatsOption = None,
) -> None:
    """Print every dead letter, oldest first, one JSON document per line: reader, bucket, key, revision, why."""
    if context.invoked_subcommand is not None:
        return
    from fedstate.bus import deadletters

    async def read(nc: "Client") -> list[str]:
        return [json.dumps(_letter(letter, value)) for letter in await deadletters.kept(nc.jetstream(), reader)]

    for line in on_bus(nats_url, read):
        typer.echo(line)


def _letter(letter: "KeptLetter", with_value: bool) -> dict[str, Any]:
    shown = {
        "reader": letter.reader,
        "bucket": letter.source,
        "key": letter.key,
        "revision": letter.revision,
        "cause": letter.cause,
        "reason": letter.reason,
        "size": letter.size,
    }
    return {**shown, "value": _value(letter.payload)} if with_value else shown


@dead_letters_app.command("purge")
def dead_letters_purge(reader: ReaderOption = None, nats_url: NatsOption = None) -> None:
    """Drop the dead letters (of one reader, or all), once the values they name are fixed or gone."""
    from fedstate.bus import deadletters

    async def purge(nc: "Client") -> None:
        await deadletters.purge(nc.jetstream(), reader)

    on_bus(nats_url, purge)
