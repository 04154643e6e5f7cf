"""Loading a scenario file: read, parse YAML strictly, validate, cross-check, convert.

Owns the one entry point `load_scenario(path)` and the order of its steps, so a malformed
file fails as a whole with a `ScenarioError` listing every problem it can see, and nothing
is half-built. YAML is read with duplicate keys rejected (a silently dropped key is a lost
setting). Problems in values and in relations are reported in one pass (the relations of
the entries whose values are fine); non-UTF-8 bytes are named by line. It must not run a
simulation.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from simulations.advisories import advise
from simulations.checks import check
from simulations.convert import SimulationInput, to_input
from simulations.scenario import Problem, Scenario, ScenarioError, problems_from_pydantic


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, object]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def parse_yaml(text: str, source: str) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        raise ScenarioError(source, [Problem(where, f"invalid YAML: {e.problem}")]) from None
    except yaml.YAMLError as e:
        raise ScenarioError(source, [Problem("yaml", f"invalid YAML: {e}")]) from None


def validate(
    data: object, source: str, warnings: list[Problem] | None = None
) -> SimulationInput:
    """A parsed document -> a runnable input, or a ScenarioError naming every problem: the
    values' and, for the entries whose values are fine, the relations' too, in one pass.
    Advice on a valid scenario is appended to `warnings` when a list is given."""
    if not isinstance(data, dict):
        raise ScenarioError(
            source, [Problem("scenario", "must be a mapping with cluster, projects, workloads")]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        problems = problems_from_pydantic(errors, data) + cross_checks_of_the_rest(data, errors)
        raise ScenarioError(source, problems) from None
    problems = check(scenario)
    if problems:
        raise ScenarioError(source, problems)
    if warnings is not None:
        warnings.extend(advise(scenario))
    return to_input(scenario, source)


def cross_checks_of_the_rest(data: dict[str, Any], errors: Sequence[ErrorDetails]) -> list[Problem]:
    """What check() finds among the entries that did validate, so one run of the command
    reports both kinds. Only when every bad value sits in a list entry that can be left
    out; a finding that names a left-out entry is dropped (it would only echo the first)."""
    bad: dict[str, set[int]] = {}
    for error in errors:
        loc = error["loc"]
        if len(loc) < 2 or loc[0] not in _PRUNABLE or not isinstance(loc[1], int):
            return []
        bad.setdefault(str(loc[0]), set()).add(loc[1])
    pruned, kept = dict(data), {}
    for section, indices in bad.items():
        items = data.get(section)
        if not isinstance(items, list):
            return []
        kept[section] = [i for i in range(len(items)) if i not in indices]
        pruned[section] = [items[i] for i in kept[section]]
    try:
        rest = Scenario.model_validate(pruned)
    except ValidationError:
        return []
    left_out = {f"'{item['name']}'" for section, indices in bad.items() for i in indices
                if isinstance(item := data[section][i], dict) and isinstance(item.get("name"), str)}
    return [
        Problem(_renumber(p.entry, kept), p.reason)
        for p in check(rest)
        if not any(name in p.reason or name.strip("'") in p.entry for name in left_out)
    ]


_PRUNABLE = ("workloads", "projects", "departments", "expect")
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]")


def _renumber(entry: str, kept: dict[str, list[int]]) -> str:
    """An entry of the pruned document, numbered as in the file."""
    match = _INDEXED.match(entry)
    if match is None or match.group(1) not in kept:
        return entry
    original = kept[match.group(1)][int(match.group(2))]
    return f"{match.group(1)}[{original}]{entry[match.end():]}"


def read_text(path: Path | str) -> str:
    """The file as text; bytes that are not UTF-8 are reported by line and column."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        reason = e.strerror or str(e)
        raise ScenarioError(source, [Problem("file", f"cannot read it: {reason}")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        where = f"line {line}, column {column}"
        reason = f"is not UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
        raise ScenarioError(source, [Problem(where, reason)]) from None


def load_scenario(path: Path | str, warnings: list[Problem] | None = None) -> SimulationInput:
    source = str(path)
    return validate(parse_yaml(read_text(path), source), source, warnings)
