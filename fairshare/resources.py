"""Units and exact conversions: GPUs as milli-GPUs, decimals in, integers out.

Owns the one definition of how a GPU amount written by a person ("4", "0.5", 1.25)
becomes an integer count of milli-GPUs, and back. It must not round: an amount with more
than three decimals is rejected, because silently rounding a quota is a lost update.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MILLI_PER_GPU = 1000
_MAX_DIGITS = 18  # integer digits; far above any quota, far below costly arithmetic


class QuantityError(ValueError):
    """A quantity a person wrote is not acceptable; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def to_milli(value: object, field: str, *, allow_negative: bool = False) -> int:
    """Convert a decimal amount (GPUs, or any unit scaled by 1000) to an exact integer.

    Accepts int, Decimal, str and float (floats via their shortest repr, so 0.1 is 0.1).
    """
    if isinstance(value, bool) or value is None:
        raise QuantityError(field, f"must be a number, got {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise QuantityError(field, f"must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise QuantityError(field, f"must be a finite number, got {value!r}")
    if amount.adjusted() > _MAX_DIGITS:
        # Before scaling: "1e999990" would become a million-digit integer (seconds of CPU).
        raise QuantityError(field, f"is too large, got {value}")
    if amount < 0 and not allow_negative:
        raise QuantityError(field, f"must not be negative, got {value}")
    scaled = amount * MILLI_PER_GPU
    if scaled != scaled.to_integral_value():
        raise QuantityError(field, f"at most 3 decimals are allowed, got {value}")
    return int(scaled)


def gpus_to_milli(value: object, field: str = "gpus") -> int:
    """GPUs as written by a person -> milli-GPUs (non-negative, at most 3 decimals)."""
    return to_milli(value, field)


def milli_to_decimal(milli: int) -> Decimal:
    """Milli-GPUs -> an exact Decimal number of GPUs, normalised ("4", "0.5")."""
    d = (Decimal(milli) / MILLI_PER_GPU).normalize()
    # normalize() turns 10 into 1E+1; quantize back to a plain integer in that case.
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def format_gpus(milli: int) -> str:
    """Milli-GPUs as people read them: 4000 -> "4", 600 -> "0.6", 1250 -> "1.25"."""
    return str(milli_to_decimal(milli))


def milli_to_float(milli: int) -> float:
    """For reports and JSON only, never for decisions."""
    return milli / MILLI_PER_GPU
