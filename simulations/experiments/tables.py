"""Reading trace CSV files strictly: a header check, then one typed row per line.

Owns the one way every experiment loader reads a CSV: a missing file names its path, a
missing column names the file and the column, and a bad value names the file, the line
number (1 = the header) and the field, so a broken trace fails as a whole before anything
runs. It must not know what the columns mean (each loader converts its own rows).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class TraceError(ValueError):
    """A trace file is missing or malformed; the message names the file, line and field."""


def read_rows(
    path: Path,
    required: Sequence[str],
    convert: Callable[[dict[str, str], int], T],
    *,
    header: Sequence[str] | None = None,
) -> list[T]:
    """Rows of `path` converted one by one; `header` given = the file has no header row."""
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        names = list(header) if header is not None else next(reader, None)
        if names is None:
            raise TraceError(f"{path}: empty file (expected a header row)")
        names = [n.strip() for n in names]
        missing = [c for c in required if c not in names]
        if missing:
            raise TraceError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
        first = 1 if header is not None else 2
        return list(_convert_all(path, names, reader, convert, first))


def _convert_all(
    path: Path,
    names: list[str],
    reader: Iterator[list[str]],
    convert: Callable[[dict[str, str], int], T],
    first: int,
) -> Iterator[T]:
    for line, values in enumerate(reader, start=first):
        if not values:
            continue
        if len(values) < len(names):
            values = values + [""] * (len(names) - len(values))
        try:
            yield convert(dict(zip(names, values, strict=False)), line)
        except ValueError as e:
            raise TraceError(f"{path}: line {line}: {e}") from None


def integer(row: dict[str, str], name: str, *, minimum: int = 0) -> int:
    """A whole number field (a trailing ".0" is accepted), at least `minimum`."""
    text = row.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {text!r}") from None
    if value != int(value):
        raise ValueError(f"{name}: expected a whole number, got {text!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {text!r}")
    return int(value)


def number(row: dict[str, str], name: str, *, minimum: float = 0.0) -> float:
    text = row.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {text!r}") from None
    if not value >= minimum:
        raise ValueError(f"{name}: must be at least {minimum:g}, got {text!r}")
    return value
