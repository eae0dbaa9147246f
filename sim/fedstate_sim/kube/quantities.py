"""``resource.Quantity`` as apimachinery keeps and prints it, where kube-apiserver writes quantities it computed
(a ResourceQuota's ``status``, its refusals): a value with the format it was written in — DecimalSI (``1500m``,
``2k``), BinarySI (``1Gi``) or DecimalExponent (``1e3``) — and its canonical form (``1000m`` is ``1``, ``1024Mi``
is ``1Gi``). A sum keeps the format of its first non-zero term, as Go's ``Quantity.Add`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from fedstate_sim.kube.pods import quantity_value

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_NANO = Decimal("1e-9")


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    format: str = DECIMAL_SI

    @classmethod
    def parse(cls, written: Any) -> Quantity:
        """A quantity as kube decodes it (a string, or a JSON number): 400 when it cannot; finer than nano rounds up."""
        value = quantity_value(written)
        if value.as_tuple().exponent < -9:  # type: ignore[operator]  # finite: quantity_value parsed it
            value = value.quantize(_NANO, ROUND_UP)
        text = str(written)
        if text[-2:] in _BINARY_SUFFIXES[1:]:
            return cls(value, BINARY_SI)
        number = text[:-1] if text[-1:].isalpha() else text  # without a decimal SI suffix ("1E" is 10^18)
        return cls(value, DECIMAL_EXPONENT if "e" in number.lower() else DECIMAL_SI)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def less_or_zero(self, other: Quantity) -> Quantity:
        """``SubtractWithNonNegativeResult`` for one resource: what this adds to ``other``, never below zero."""
        return Quantity(self.value - other.value, self.format) if self.value > other.value else ZERO

    def rounded_up(self) -> Quantity:
        """To a whole number, as ``RoundUp(0)`` (a claim's storage counts in whole bytes)."""
        return Quantity(self.value.to_integral_value(ROUND_UP), self.format)

    def __str__(self) -> str:
        """``Quantity.String()``: the canonical form. BinarySI only for whole numbers of 1024 and more."""
        if self.value == 0:
            return "0"
        if self.format == BINARY_SI and abs(self.value) >= 1024 and self.value == self.value.to_integral_value():
            return _base_1024(int(self.value))
        return _base_10(self.value, self.format == DECIMAL_EXPONENT)


ZERO, ONE = Quantity(Decimal(0)), Quantity(Decimal(1))


def _base_10(value: Decimal, exponent_form: bool) -> str:
    """The smallest integer mantissa with an exponent that is a multiple of 3 (``AsCanonicalBytes``)."""
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    shift = exponent % 3  # Python's modulo: down to the multiple of 3 below, as Go's switch on exponent % 3 does
    mantissa = f"{'-' if sign else ''}{int(''.join(map(str, digits))) * 10**shift}"
    exponent -= shift
    suffix = _DECIMAL_SUFFIXES.get(exponent) if not exponent_form else ("" if exponent == 0 else None)
    return mantissa + (suffix if suffix is not None else f"e{exponent}")


def _base_1024(value: int) -> str:
    power = 0
    while value % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
        value //= 1024
        power += 1
    return f"{value}{_BINARY_SUFFIXES[power]}"
