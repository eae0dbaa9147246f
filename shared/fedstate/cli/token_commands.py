"""``fedstate token create|list|revoke``: the gateway's API tokens (docs/security.md, "API tokens").

They edit the gateway's token file: ``--tokens-file``, else ``$FEDSTATE_TOKENS_FILE`` (the gateway's own setting),
else the local stack's ``.fedstate/api-tokens.json``. The gateway sees a change from its next request. The token
itself is printed once, at creation, and stored nowhere: only its SHA-256 is kept.
"""

import os
from typing import TYPE_CHECKING, Annotated

import typer

from .context import find_stack, where_looked
from .errors import CliError, FedstateTyper
from .render import print_lines, print_table

if TYPE_CHECKING:
    from pathlib import Path

TOKENS_FILE_ENV = "FEDSTATE_TOKENS_FILE"
ROLES = ("viewer", "editor", "admin")

token_app = FedstateTyper(help="API tokens of the gateway: create, list, revoke.", no_args_is_help=True)

TokensFile = Annotated[
    str | None,
    typer.Option("--tokens-file", help=f"the gateway's token file (default: ${TOKENS_FILE_ENV}, else the stack's)"),
]


def tokens_file(named: str | None) -> "Path":
    from pathlib import Path

    named = named or os.environ.get(TOKENS_FILE_ENV)
    if named:
        return Path(named)
    paths = find_stack()
    if paths is None:
        raise CliError(f"no fedstate stack found in {where_looked()} — pass --tokens-file")
    return paths.api_tokens


@token_app.command()
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="the tenant the token reaches")],
    role: Annotated[str, typer.Option("--role", help="viewer (reads, watches), editor (also writes), admin (all)")],
    name: Annotated[str | None, typer.Option("--name", help="what logs call it (default: <role>-<tenant>)")] = None,
    file: TokensFile = None,
) -> None:
    """Make a token and print it (once: only its hash is kept)."""
    from pydantic import ValidationError

    from fedstate.models.base import check_dns_label
    from fedstate.tokens import Role, issue

    if role not in ROLES:
        raise CliError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    try:
        check_dns_label(tenant)
        record, token = issue(tokens_file(file), tenant, Role(role), name or f"{role}-{tenant}")
    except (ValueError, ValidationError) as exc:
        raise CliError(f"--tenant: {exc}") from None
    typer.echo(f"token {record.id} ({record.name}: {record.role} of tenant {record.tenant}); it is shown only now:")
    typer.echo(token)


@token_app.command("list")
def list_tokens(file: TokensFile = None) -> None:
    """Every token: id, name, tenant, role and when it was made (never the token)."""
    from fedstate.tokens import read_tokens

    rows = [
        [t.id, t.name, t.tenant, str(t.role), t.created.isoformat(timespec="seconds")]
        for t in read_tokens(tokens_file(file)).tokens
    ]
    print_table(["ID", "NAME", "TENANT", "ROLE", "CREATED"], rows)


@token_app.command()
def revoke(
    token: Annotated[str, typer.Argument(help="the id or the name of the token")], file: TokensFile = None
) -> None:
    """Remove a token: the gateway refuses it from its next request."""
    from fedstate.tokens import revoke as revoke_token

    gone = revoke_token(tokens_file(file), token)
    if not gone:
        raise CliError(f"no token has the id or name {token!r} (fedstate token list)")
    print_lines(*(f"revoked {t.id} ({t.name})" for t in gone))
