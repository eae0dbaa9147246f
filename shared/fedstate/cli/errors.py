"""CLI errors: one exception type, printed as ``error: ...`` on stderr with a non-zero exit.

``FedstateTyper`` wraps every command so that a ``CliError`` raised anywhere below it
ends the command cleanly instead of with a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from .flags import KubeCommand

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    @property
    def text(self) -> str:
        """What stderr shows: ``error: ...`` (a server's refusal reads ``Error from server (NotFound): ...``)."""
        return f"error: {self.message}"


def print_error(message: str) -> None:
    print_error_text(f"error: {message}")


def print_error_text(text: str) -> None:
    from rich.console import Console  # imported on the error path only: it costs every command's start-up
    from rich.text import Text

    Console(stderr=True, highlight=False).print(Text(text, style="red"), soft_wrap=True)


def reporting_errors(command: F) -> F:
    """Turn a ``CliError`` into its message on stderr and ``typer.Exit(exit_code)``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            print_error_text(error.text)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


class FedstateTyper(typer.Typer):
    """A Typer whose commands report ``CliError`` as a message, never a traceback, and take ``--flag=false``.

    Help is plain text, as kubectl's: rich's boxes cost ``--help`` a tenth of a second to import.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        kwargs.setdefault("cls", KubeCommand)
        register = super().command(*args, **kwargs)

        def decorator(function: F) -> F:
            register(reporting_errors(function))
            return function

        return decorator
