"""Turn pydantic validation errors into field-path messages a human can act on."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


class FieldError(BaseModel):
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item.startswith("function-"):
            continue  # pydantic's union-branch and validator labels say nothing to a user
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _message(error: dict[str, object]) -> str:
    text = str(error.get("msg", ""))
    return text.removeprefix("Value error, ")


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One entry per distinct field path, e.g. ``spec.resource.limits.cpu: '2x' is not a Kubernetes quantity``."""
    seen: dict[str, FieldError] = {}
    for error in exc.errors():
        path = _path(tuple(error["loc"]))
        seen.setdefault(path, FieldError(field=path, message=_message(dict(error))))
    return list(seen.values())


def describe(exc: ValidationError) -> str:
    return "; ".join(str(e) for e in field_errors(exc))
