"""The ``labelSelector`` query parameter, parsed as apimachinery's ``labels.Parse`` parses it.

A lexer (identifiers end at whitespace or one of ``=!(),<>``; ``in`` and ``notin`` are keywords only
where an operator is expected) and a recursive-descent parser with the same grammar and the same
messages: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``.
Keys must be qualified names and values valid label values. Anything else is a 400 BadRequest
``unable to parse requirement: ...`` or ``found 'x', expected: ...``, so a selector that works here
works on a real cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fedstate_sim.kube import errors
from fedstate_sim.kube.errors import INVALID, FieldError
from fedstate_sim.kube.selectors import LabelSelector, Requirement
from fedstate_sim.kube.validation import label_value, qualified_name

_OPERATORS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")  # longest first
_SPECIAL = frozenset("=!(),<>")
_WHITESPACE = frozenset(" \t\r\n")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_BINARY = "in, notin, =, ==, !=, gt, lt"
IDENT, END, KEYWORD = "identifier", "end", "keyword"


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT, END, KEYWORD ("in"/"notin") or the operator itself
    text: str


def tokens(text: str) -> list[Token]:
    found: list[Token] = []
    i = 0
    while i < len(text):
        if text[i] in _WHITESPACE:
            i += 1
        elif text[i] in _SPECIAL:
            symbol = next(op for op in _OPERATORS if text.startswith(op, i))
            found.append(Token(symbol, symbol))
            i += len(symbol)
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
                i += 1
            word = text[start:i]
            found.append(Token(KEYWORD if word in ("in", "notin") else IDENT, word))
    return [*found, Token(END, "")]


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = tokens(text)
        self._at = 0

    def _peek(self, values: bool = True) -> Token:
        return self._as_value(self._tokens[self._at]) if values else self._tokens[self._at]

    def _take(self, values: bool = True) -> Token:
        token = self._peek(values)
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token

    @staticmethod
    def _as_value(token: Token) -> Token:
        """Where a value is expected, ``in`` and ``notin`` are plain identifiers."""
        return Token(IDENT, token.text) if token.kind == KEYWORD else token

    def parse(self) -> list[Requirement]:
        found: list[Requirement] = []
        while True:
            token = self._peek()
            if token.kind == END:
                return found
            if token.kind not in (IDENT, "!"):
                raise ValueError(f"found '{token.text}', expected: !, identifier, or 'end of string'")
            try:
                found.append(self._requirement())
            except ValueError as exc:
                raise ValueError(f"unable to parse requirement: {exc}") from exc
            after = self._take()
            if after.kind == END:
                return found
            if after.kind != ",":
                raise ValueError(f"found '{after.text}', expected: ',' or 'end of string'")
            if self._peek().kind not in (IDENT, "!"):
                raise ValueError(f"found '{self._peek().text}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        absent = self._peek().kind == "!"
        if absent:
            self._take()
        key = self._take()
        if key.kind != IDENT:
            raise ValueError(f"found '{key.text}', expected: identifier")
        _check(qualified_name(key.text), "<nil>", key.text)
        if self._peek().kind in (END, ","):
            return Requirement(key.text, "DoesNotExist" if absent else "Exists")
        operator = self._operator()
        values = self._values() if operator in ("In", "NotIn") else self._exact_value()
        return _requirement(key.text, operator, values)

    def _operator(self) -> str:
        token = self._take(values=False)
        operators = {"in": "In", "notin": "NotIn", "=": "In", "==": "In", "!=": "NotIn", ">": "Gt", "<": "Lt"}
        if token.kind not in (KEYWORD, "=", "==", "!=", ">", "<"):
            raise ValueError(f"found '{token.text}', expected: {_BINARY}")
        operator = operators[token.text]
        return "Exact" if token.kind in ("=", "==") else "NotExact" if token.kind == "!=" else operator

    def _values(self) -> list[str]:
        opening = self._take()
        if opening.kind != "(":
            raise ValueError(f"found '{opening.text}' expected: '('")
        first = self._peek()
        if first.kind == ")":
            self._take()
            return [""]
        if first.kind not in (IDENT, ","):
            raise ValueError(f"found '{first.text}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._take().kind != ")":
            raise ValueError(f"found '{first.text}', expected: ')'")
        return values

    def _identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            token = self._take()
            if token.kind == IDENT:
                values.append(token.text)
                following = self._peek()
                if following.kind == ")":
                    return values
                if following.kind != ",":
                    raise ValueError(f"found '{following.text}', expected: ',' or ')'")
            elif token.kind == ",":
                values += [""] if not values else []
                if self._peek().kind == ")":
                    return [*values, ""]
                if self._peek().kind == ",":
                    self._take()
                    values.append("")
            else:
                raise ValueError(f"found '{token.text}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        if self._peek().kind in (END, ","):
            return [""]
        token = self._take()
        if token.kind != IDENT:
            raise ValueError(f"found '{token.text}', expected: identifier")
        return [token.text]


def _check(problems: list[str], field: str, value: str) -> None:
    if problems:
        raise ValueError(str(FieldError(INVALID, field, "; ".join(problems), value)))


def _requirement(key: str, operator: str, values: list[str]) -> Requirement:
    """``NewRequirement``: ``=``/``!=`` become one-value In/NotIn; Gt/Lt take one integer."""
    _check(qualified_name(key), "key", key)
    if operator in ("Gt", "Lt") and not _INTEGER.fullmatch(values[0]):
        _check(["for 'Gt', 'Lt' operators, the value must be an integer"], "values[0]", values[0])
    for index, value in enumerate(values):
        _check(label_value(value), f"values[{index}][{key}]", value)
    kinds = {"Exact": "In", "NotExact": "NotIn"}
    return Requirement(key, kinds.get(operator, operator), frozenset(values))


def parse_label_selector(text: str | None) -> LabelSelector:
    """A ``labelSelector``; a malformed one is 400 BadRequest with apimachinery's message."""
    if not text:
        return LabelSelector()
    try:
        return LabelSelector(tuple(_Parser(text).parse()))
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from exc
