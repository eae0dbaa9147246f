"""kubectl's boolean flags: ``--wait=false`` and ``--ignore-not-found=true`` as well as ``--wait``.

Click reads a boolean flag as present or absent (``--wait`` / ``--no-wait``) and refuses a value.
``KubeCommand`` rewrites ``--flag=VALUE`` of its own boolean flags before parsing, accepting the
values Go's ``strconv.ParseBool`` accepts, so ``fedstate delete mcm x --wait=false`` reads as kubectl's.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand

_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


def boolean_flags(params: list[Any]) -> dict[str, tuple[str, str | None]]:
    """Each spelling of a boolean flag → (its "on" option, its "off" option or None)."""
    flags: dict[str, tuple[str, str | None]] = {}
    for param in params:
        if getattr(param, "is_bool_flag", False):
            on, off = param.opts[0], next(iter(param.secondary_opts), None)
            flags.update({opt: (on, off) for opt in param.opts})
    return flags


def rewrite(args: list[str], flags: dict[str, tuple[str, str | None]]) -> list[str]:
    """``--wait=false`` → ``--no-wait`` (or nothing when the flag has no "off" form); ``--wait=true`` → ``--wait``."""
    out: list[str] = []
    for position, arg in enumerate(args):
        if arg == "--":
            return out + args[position:]
        name, equals, value = arg.partition("=")
        if equals and name in flags and value.lower() in _TRUE | _FALSE:
            on, off = flags[name]
            out += [on] if value.lower() in _TRUE else [off] if off else []
        else:
            out.append(arg)
    return out


class KubeCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rewrite(args, boolean_flags(self.params)))
