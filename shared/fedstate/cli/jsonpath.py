"""``-o jsonpath=TEMPLATE``: kubectl's JSONPath templates, evaluated with jsonpath-ng.

The subset kubectl users write, with kubectl's meaning:

- text outside braces is printed as is; ``{"\\n"}`` and ``{'\\t'}`` print a quoted string (escapes apply);
- ``{.a.b}``, ``{.items[*].metadata.name}``, ``{.items[0]}``, ``{.items[-1:]}``, ``{..name}``,
  ``{.status.conditions[?(@.type=="ServerReady")].status}``: an expression from the current object
  (``$`` and ``@`` name the root and the current object too); a key with dots is written
  ``{.metadata.labels.app\\.kubernetes\\.io/name}``;
- ``{range .items[*]}...{end}``: the body once per result, with that result as the current object;
- several results of one expression are separated by a space; strings print bare, numbers and
  booleans as JSON, objects and lists as compact JSON; a missing key prints nothing (kubectl's
  default ``--allow-missing-template-keys``). No newline is added at the end, as kubectl adds none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import CliError

_ACTION = re.compile(r"\{((?:[^{}\"']|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')*)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Expression:
    source: str


@dataclass
class Range:
    source: str
    body: list[Node] = field(default_factory=list)


Node = Text | Expression | Range


def _tokens(template: str) -> Iterator[tuple[str, str]]:
    """("text", ...) and ("action", ...) in template order."""
    position = 0
    for match in _ACTION.finditer(template):
        if match.start() > position:
            yield "text", template[position : match.start()]
        yield "action", match.group(1).strip()
        position = match.end()
    if position < len(template):
        yield "text", template[position:]


def _literal(action: str) -> str | None:
    """The string of ``"..."`` or ``'...'``, escapes applied; None when ``action`` is not a quoted string."""
    if len(action) >= 2 and action[0] == action[-1] and action[0] in "\"'":
        inner = action[1:-1]
        body = inner.replace('"', '\\"') if action[0] == "'" else inner
        try:
            return str(json.loads('"' + body + '"', strict=False))
        except json.JSONDecodeError:
            raise CliError(f"error parsing jsonpath {action}: bad string literal") from None
    return None


def parse(template: str) -> list[Node]:
    """The template as nodes; ``CliError`` for unbalanced ``range``/``end`` or braces."""
    root: list[Node] = []
    stack: list[list[Node]] = [root]
    for kind, value in _tokens(template):
        if kind == "text" and "{" in value:
            raise CliError(f"error parsing jsonpath {template}: unclosed action")
        if kind == "text":
            stack[-1].append(Text(value))
        elif value == "end":
            if len(stack) == 1:
                raise CliError(f"error parsing jsonpath {template}: {{end}} without {{range}}")
            stack.pop()
        elif value.startswith("range "):
            block = Range(value.removeprefix("range ").strip())
            stack[-1].append(block)
            stack.append(block.body)
        elif (literal := _literal(value)) is not None:
            stack[-1].append(Text(literal))
        else:
            stack[-1].append(Expression(value))
    if len(stack) > 1:
        raise CliError(f"error parsing jsonpath {template}: {{range}} without {{end}}")
    return root


def _split_path(source: str) -> list[str]:
    """``.a.b\\.c[0]`` → ``["a", "b.c[0]"]``: dots split, except escaped ones and those inside brackets."""
    parts, current, depth, escaped = [], "", 0, False
    for char in source:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            depth += {"[": 1, "]": -1}.get(char, 0)
            current += char
    return [*parts, current]


def _segment(part: str) -> str:
    """One step for jsonpath-ng: a plain name, a quoted odd name (``'app.kubernetes.io/name'``), brackets kept."""
    name, bracket, rest = part.partition("[")
    if name and not _IDENTIFIER.match(name) and name != "*":
        name = "'" + name.replace("'", "\\'") + "'"
    return name + bracket + rest


def to_jsonpath_ng(source: str) -> str:
    """kubectl's ``.a.b[*]`` (relative to the current object) in jsonpath-ng's syntax, rooted at ``$``."""
    text = source.strip()
    if text in ("", ".", "@", "$"):
        return "$"
    if text.startswith(("$", "@")):
        text = text[1:]
    if text.startswith(".."):
        return "$.." + ".".join(_segment(p) for p in _split_path(text[2:]))
    text = text.removeprefix(".")
    if text.startswith("["):
        return "$" + text
    return "$." + ".".join(_segment(p) for p in _split_path(text))


def find(source: str, data: Any) -> list[Any]:
    """Every value ``source`` selects in ``data``, in document order."""
    from jsonpath_ng.ext import parse as parse_path  # only -o jsonpath pays for it

    try:
        expression = parse_path(to_jsonpath_ng(source))
    except Exception as exc:  # jsonpath-ng raises bare Exceptions for some syntax errors
        raise CliError(f"error parsing jsonpath {{{source}}}: {exc}") from None
    return [match.value for match in expression.find(data)]


def _elements(source: str, data: Any) -> list[Any]:
    """What ``{range SOURCE}`` iterates: the results, or the elements of a single list result."""
    found = find(source, data)
    return found[0] if len(found) == 1 and isinstance(found[0], list) else found


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def _render(nodes: list[Node], data: Any) -> str:
    out = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Expression):
            out.append(" ".join(_show(v) for v in find(node.source, data)))
        else:
            out.extend(_render(node.body, item) for item in _elements(node.source, data))
    return "".join(out)


def render(template: str, data: Any) -> str:
    """The template applied to ``data`` (a wire object or list), as kubectl prints it."""
    return _render(parse(template), data)
