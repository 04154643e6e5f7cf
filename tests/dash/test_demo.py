"""`quotient demo`: its generated team workload, its clock, and the command itself.

The stream is reproducible from its seed and keeps to the mix the issue asks for
(trainings of 1-8 GPUs per pod and gangs, notebooks with fractions that are deleted, inference
services, quota changes within bounds); the clock scales real time; the command prints the
dashboard's address and a viewer token, serves the page, and stops by itself with --for.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

import httpx
import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from quotient.demo import ScaledClock
from simulations.demo_workload import PROJECTS, DemoEvent, DemoWorkload, QuotaChange, Submit

SAMPLE = 600


def sample(seed: int) -> list[DemoEvent]:
    return list(itertools.islice(DemoWorkload(seed).events(), SAMPLE))


def describe(e: DemoEvent) -> tuple[object, ...]:
    if isinstance(e, Submit):
        w = e.workload
        return (e.at, w.workload.name, w.duration, w.delete_at, w.workload.pods[0].gpu)
    return (e.at, e.project, e.deserved_gpus)


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    assert [describe(e) for e in sample(7)] == [describe(e) for e in sample(7)]
    assert [describe(e) for e in sample(7)] != [describe(e) for e in sample(8)]


def test_events_come_in_time_order() -> None:
    times = [e.at for e in sample(1)]
    assert times == sorted(times)


@pytest.fixture(scope="module")
def submits() -> list[Submit]:
    return [e for e in sample(1) if isinstance(e, Submit)]


def kinds(submits: list[Submit], kind: str) -> list[Submit]:
    return [s for s in submits if str(s.workload.workload.type) == kind]


def test_trainings_take_1_to_8_gpus_per_pod_and_some_are_gangs(submits: list[Submit]) -> None:
    trainings = kinds(submits, "train")
    per_pod = Counter(s.workload.workload.pods[0].gpu.whole for s in trainings)
    assert set(per_pod) <= {1, 2, 4, 8} and per_pod[1] > per_pod[8] > 0
    assert any(len(s.workload.workload.pods) > 1 for s in trainings), "gangs"
    assert all(s.workload.duration and s.workload.delete_at is None for s in trainings)


def test_notebooks_share_gpus_and_their_owners_delete_them(submits: list[Submit]) -> None:
    notebooks = kinds(submits, "interactive")
    fractions = {s.workload.workload.pods[0].gpu.fraction_milli for s in notebooks}
    assert {250, 500} <= fractions
    assert all(s.workload.delete_at and s.workload.delete_at > s.at for s in notebooks)
    assert not any(s.workload.workload.is_preemptible for s in notebooks)


def test_inference_services_are_long_lived_and_quota_changes_stay_in_bounds() -> None:
    events = sample(1)
    services = [e for e in events if isinstance(e, Submit)
                and str(e.workload.workload.type) == "inference"]
    assert services and all((e.workload.delete_at or 0) - e.at >= 3600 for e in services)
    changes = [e for e in events if isinstance(e, QuotaChange)]
    assert changes and all(1 <= c.deserved_gpus <= 10 for c in changes)
    assert {c.project for c in changes} <= {p["name"] for p in PROJECTS}


@pytest.mark.parametrize(
    ("speed", "elapsed", "expected"),
    [(1, 2.5, 2), (60, 2.5, 150), (0.5, 10, 5)],
    ids=["real time", "sixty times faster", "slower than real time"],
)
def test_the_clock_scales_real_seconds(speed: float, elapsed: float, expected: int) -> None:
    now = iter([100.0, 100.0 + elapsed])
    assert ScaledClock(speed, monotonic=lambda: next(now)).now() == expected


def test_the_command_prints_the_dashboard_and_a_viewer_token_and_stops_by_itself() -> None:
    result = CliRunner().invoke(
        build_app(), ["demo", "--port", "0", "--for", "1.5", "--speed", "600"]
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/#token=([0-9a-f]{32})", result.output)
    assert match, result.output
    assert f"viewer token: {match.group(2)}" in result.output
    with pytest.raises(httpx.ConnectError):  # the API went with the demo
        httpx.get(f"{match.group(1)}/healthz", timeout=2)


def test_a_port_in_use_is_one_clear_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(build_app(), ["demo", "--port", str(port), "--for", "0"])
    assert result.exit_code == 2
    assert result.output.startswith("error: the demo could not start")
    assert "Traceback" not in result.output
