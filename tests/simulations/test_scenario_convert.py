"""A valid scenario becomes the core's value types, with every amount exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fairshare.model import GpuRequest, Taint, Toleration, WorkloadType
from simulations.loader import load_scenario
from tests.simulations.builders import SCENARIOS, scenario, sim_input, wl


def test_count_expands_nodes_and_gpu_discovery_labels_them() -> None:
    sim = sim_input(scenario())
    assert [n.name for n in sim.nodes] == ["dgx1-1", "dgx1-2"]
    first = sim.nodes[0]
    assert (first.gpu_count, first.gpu_memory_mib, first.cpu_milli) == (8, 32768, 64_000)
    assert first.memory_bytes == 512 << 30
    assert first.labels["nvidia.com/gpu.memory"] == "32768"
    assert first.labels["kubernetes.io/hostname"] == "dgx1-1"
    assert sim.capacity_milli == 16_000


@pytest.mark.parametrize(
    ("fields", "request_"),
    [
        pytest.param({"gpus": 2}, GpuRequest(whole=2), id="whole GPUs stay whole"),
        pytest.param({"gpu_fraction": 0.6}, GpuRequest(fraction_milli=600),
                     id="a fraction becomes exact milli-GPUs"),
        pytest.param({"gpu_fraction": "0.125"}, GpuRequest(fraction_milli=125),
                     id="a fraction written as a string is read exactly"),
        pytest.param({"gpu_memory_mib": 8192}, GpuRequest(memory_mib=8192),
                     id="a GPU memory request stays in MiB until placement"),
    ],
)  # fmt: skip
def test_gpu_requests_convert_exactly(fields: dict[str, Any], request_: GpuRequest) -> None:
    sim = sim_input(scenario(wl("x", **fields)))
    assert sim.workloads[0].workload.pods[0].gpu == request_


def test_a_gang_has_one_pod_spec_per_pod_and_its_minimum() -> None:
    sim = sim_input(scenario(wl("g", gpus=2, pods=3, min_pods=2, cpu="500m", memory="1Gi")))
    w = sim.workloads[0].workload
    assert [p.name for p in w.pods] == ["g-0", "g-1", "g-2"]
    assert w.gang_minimum == 2
    assert {(p.cpu_milli, p.memory_bytes) for p in w.pods} == {(500, 1 << 30)}


def test_workload_fields_reach_the_core() -> None:
    doc = scenario(
        wl("i", type="interactive", priority=5, preemptible=True, submit_at=7, duration=30,
           delete_at=90, node_selector={"zone": "a"},
           tolerations=[{"key": "gpu", "operator": "Exists"}]),
    )  # fmt: skip
    doc["cluster"]["nodes"][0]["labels"] = {"zone": "a"}
    doc["cluster"]["nodes"][0]["taints"] = [{"key": "gpu", "effect": "NoSchedule"}]
    sim = sim_input(doc)
    timed = sim.workloads[0]
    w = timed.workload
    assert (w.type, w.priority, w.is_preemptible, w.submit_time) == (
        WorkloadType.INTERACTIVE, 5, True, 7,
    )  # fmt: skip
    assert (timed.submit_at, timed.duration, timed.delete_at) == (7, 30, 90)
    assert w.constraints.node_selector == {"zone": "a"}
    assert w.constraints.tolerations == (Toleration("gpu", "Exists"),)
    assert sim.nodes[0].taints == (Taint("gpu", "", "NoSchedule"),)


def test_quota_fields_and_policy_reach_the_core() -> None:
    doc = scenario(
        departments=[{"name": "research", "deserved_gpus": 6, "limit_gpus": 10}],
        projects=[
            {"name": "team-a", "deserved_gpus": 4, "over_quota_weight": 0.5, "limit_gpus": 6.5,
             "priority": 1, "department": "research", "max_interactive_seconds": 3600,
             "max_training_seconds": 86400},
            {"name": "team-b", "deserved_gpus": 2},
        ],
        policy={"max_reclaim_gpus_per_cycle": 4, "min_runtime_seconds": 60,
                "placement": "spread", "cycle_seconds": 5},
    )  # fmt: skip
    sim = sim_input(doc)
    a = sim.quota.projects["team-a"]
    assert (a.deserved_milli, a.weight_milli, a.limit_milli, a.priority) == (4000, 500, 6500, 1)
    assert (a.max_interactive_seconds, a.max_training_seconds) == (3600, 86400)
    assert sim.quota.projects["team-b"].weight_milli == 2000  # default weight = deserved
    assert sim.quota.ancestors("team-a") == ("research",)
    assert sim.quota.departments["research"].limit_milli == 10_000
    assert sim.policy.max_reclaim_milli_per_cycle == 4000
    assert (sim.policy.min_runtime_seconds, sim.policy.placement) == (60, "spread")
    assert sim.cycle_seconds == 5


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path: Path) -> None:
    sim = load_scenario(path)
    assert sim.workloads
    assert sim.expectations, "a shipped scenario says what it shows"
