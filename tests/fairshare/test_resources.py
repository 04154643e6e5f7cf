"""GPU amounts written by people become exact milli-GPUs, or a clear error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairshare.resources import QuantityError, format_gpus, gpus_to_milli


@pytest.mark.parametrize(
    ("value", "milli"),
    [
        pytest.param(4, 4000, id="an integer is whole GPUs"),
        pytest.param("0.5", 500, id="a decimal string is exact"),
        pytest.param(0.1, 100, id="a float converts through its shortest repr, not binary"),
        pytest.param(Decimal("1.125"), 1125, id="three decimals are allowed"),
        pytest.param("0", 0, id="zero is allowed"),
        pytest.param(" 2 ", 2000, id="surrounding spaces are ignored"),
    ],
)
def test_gpus_convert_exactly(value: object, milli: int) -> None:
    assert gpus_to_milli(value, "deserved_gpus") == milli


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(-1, "must not be negative", id="negative GPUs are rejected"),
        pytest.param("1.2345", "at most 3 decimals", id="four decimals are rejected, not rounded"),
        pytest.param("four", "must be a number", id="words are rejected"),
        pytest.param(True, "must be a number", id="booleans are not numbers"),
        pytest.param(None, "must be a number", id="null is not a number"),
        pytest.param("nan", "finite", id="NaN is rejected"),
    ],
)
def test_bad_amounts_name_the_field_and_the_reason(value: object, reason: str) -> None:
    with pytest.raises(QuantityError) as err:
        gpus_to_milli(value, "limit_gpus")
    assert err.value.field == "limit_gpus"
    assert reason in err.value.reason


@pytest.mark.parametrize(
    ("milli", "text"),
    [(4000, "4"), (600, "0.6"), (1250, "1.25"), (0, "0"), (10000, "10"), (1, "0.001")],
    ids=lambda v: str(v),
)
def test_format_gpus_reads_as_people_write(milli: int, text: str) -> None:
    assert format_gpus(milli) == text
