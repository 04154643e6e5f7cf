"""Loading a scenario file: read, parse YAML strictly, validate, cross-check, convert.

Owns the one entry point `load_scenario(path)` and the order of its steps, so a malformed
file fails as a whole with a `ScenarioError` listing every problem it can see, and nothing
is half-built. YAML is read with duplicate keys rejected (a silently dropped key is a lost
setting). It must not run a simulation.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import yaml
from pydantic import ValidationError

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


def validate(data: object, source: str) -> SimulationInput:
    """A parsed document -> a runnable input, or a ScenarioError naming every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(
            source, [Problem("scenario", "must be a mapping with cluster, projects, workloads")]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, problems_from_pydantic(e.errors(), data)) from None
    problems = check(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return to_input(scenario, source)


def load_scenario(path: Path | str) -> SimulationInput:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScenarioError(source, [Problem("file", f"cannot read it: {reason}")]) from None
    return validate(parse_yaml(text, source), source)
