"""Field types at the API edge: DNS-1123 names, GPU decimals in, GPU numbers out.

Owns how a request's GPU amount ("4", 0.5) becomes exact milli-GPUs (through
`fairshare.resources`, never by float arithmetic), the bounds that keep every integer
inside a database column, and how milli-GPUs are shown (4000 -> 4, 500 -> 0.5). It must
not check cross-field or cross-object rules (the store does) nor reimplement conversion.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from fairshare.resources import QuantityError, milli_to_decimal, to_milli

MAX_GPUS = 1_000_000  # far above any cluster; keeps milli values inside a 32-bit column
MAX_MILLI = MAX_GPUS * 1000
INT32_MAX = 2**31 - 1
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


def _dns_label(value: str) -> str:
    if DNS_LABEL.fullmatch(value) is None:
        # No context is passed, so the value (which may hold braces) is never a template.
        raise PydanticCustomError(
            "dns_label",
            "must be a DNS-1123 label (lowercase letters, digits and '-', starting and "
            f"ending with a letter or digit, at most 63 characters), got {value!r}",
        )
    return value


DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    WithJsonSchema({"type": "string", "pattern": DNS_LABEL_PATTERN, "maxLength": 63}),
]


def _whole(value: Any) -> int:
    # JSON Schema's integer includes 3.0; booleans and strings are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("integer", f"must be an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("integer", f"must be an integer, got {value!r}")
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
"""An integer as JSON Schema means it: 3 and 3.0, but not true, "3" or 3.5."""


class _Between:
    """Bounds of a WholeNumber, checked after it and published as JSON Schema's own
    `minimum`/`maximum` (pydantic prints `ge`/`le` behind a before-validator)."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __call__(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise PydanticCustomError(
                "range", f"must be greater than or equal to {self.low} and at most "
                f"{self.high}, got {value}",
            )
        return value

    def schema(self) -> WithJsonSchema:
        return WithJsonSchema({"type": "integer", "minimum": self.low, "maximum": self.high})


_PRIORITY, _SECONDS = _Between(-INT32_MAX, INT32_MAX), _Between(1, INT32_MAX)
_COUNT, _CYCLE = _Between(0, 10**9), _Between(0, 2**62)
Priority = Annotated[int, BeforeValidator(_whole), AfterValidator(_PRIORITY), _PRIORITY.schema()]
Seconds = Annotated[int, BeforeValidator(_whole), AfterValidator(_SECONDS), _SECONDS.schema()]
Count = Annotated[int, BeforeValidator(_whole), AfterValidator(_COUNT), _COUNT.schema()]
CycleTime = Annotated[int, BeforeValidator(_whole), AfterValidator(_CYCLE), _CYCLE.schema()]
_MIB, _NODE_GPUS, _PODS = _Between(0, 2**31 - 1), _Between(0, 64), _Between(0, 100_000)
MemoryMib = Annotated[int, BeforeValidator(_whole), AfterValidator(_MIB), _MIB.schema()]
NodeGpuCount = Annotated[
    int, BeforeValidator(_whole), AfterValidator(_NODE_GPUS), _NODE_GPUS.schema()
]
PodCount = Annotated[int, BeforeValidator(_whole), AfterValidator(_PODS), _PODS.schema()]


GPU_TEXT_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,3})?$"
_GPU_TEXT = re.compile(r"[0-9]{1,7}(\.[0-9]{1,3})?", re.ASCII)
_PLAIN_DECIMAL = re.compile(r"([0-9]{1,40})(?:\.([0-9]{1,40}))?", re.ASCII)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _why_not_gpu_text(value: str) -> str:
    if value.startswith("-") and _PLAIN_DECIMAL.fullmatch(value[1:]):
        return f"must not be negative, got {value}"
    plain = _PLAIN_DECIMAL.fullmatch(value)
    if plain is not None and len(plain.group(2) or "") > 3:
        return f"at most 3 decimals are allowed, got {value}"
    if plain is not None:  # digits only, at most 81 characters: safe to show as they are
        return f"must be at most {MAX_GPUS}, got {value}"
    if value.strip().lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
        return f"must be a finite number, got {_shown(value)}"
    return (
        "must be a number like 4 or 0.5 (digits 0-9 only, at most 3 decimals; no sign, "
        f"exponent, '_' or spaces), got {_shown(value)}"
    )


def _milli(value: Any, info: ValidationInfo) -> int:
    """Checked by shape and range before any arithmetic: a 45-byte "1e999990" must not
    become a million-digit number, nor "1_000" or "١" a quota."""
    field = info.field_name or "gpus"
    if isinstance(value, str) and _GPU_TEXT.fullmatch(value) is None:
        raise PydanticCustomError("quantity", _why_not_gpu_text(value))
    if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_GPUS:
        raise PydanticCustomError("quantity", f"must be at most {MAX_GPUS}, got {_shown(value)}")
    try:
        milli = to_milli(value, field)
    except QuantityError as exc:
        raise PydanticCustomError("quantity", exc.reason) from None
    except ArithmeticError:
        raise PydanticCustomError("quantity", f"is not a usable number: {_shown(value)}") from None
    if milli > MAX_MILLI:
        raise PydanticCustomError("quantity", f"must be at most {MAX_GPUS}, got {value}")
    return milli


_DECIMAL_IN = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_GPUS, "multipleOf": 0.001},
        {"type": "string", "pattern": GPU_TEXT_PATTERN},
    ],
    "description": "A decimal with at most 3 decimals, as a number or a string",
}

MilliFromDecimal = Annotated[int, BeforeValidator(_milli), WithJsonSchema(_DECIMAL_IN)]
"""A request's GPU amount (or weight) already converted to an exact integer x1000."""


def _as_number(value: Decimal) -> int | float:
    # A float of a decimal with <= 3 places prints back exactly (shortest repr).
    return int(value) if value == value.to_integral_value() else float(value)


GpuNumber = Annotated[
    Decimal,
    PlainSerializer(_as_number, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
"""A response's GPU amount, shown as a JSON number (4, 0.5)."""


def gpus(milli: int) -> Decimal:
    return milli_to_decimal(milli)


def opt_gpus(milli: int | None) -> Decimal | None:
    return None if milli is None else milli_to_decimal(milli)
