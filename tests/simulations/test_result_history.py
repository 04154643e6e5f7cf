"""A run's history can be checked from outside: `evictions[]`, `bindings[]` and `final`.

The result document keeps every eviction (when, in which cycle, what, how many GPUs, why,
its kind and the workload it made room for) and every binding (per pod the node, the GPU
indices and the GPUs), so that a reader can replay them and arrive at the final state.
"""

from __future__ import annotations

from typing import Any

from simulations.result import to_document
from tests.simulations.builders import one_node, run, scenario, wl

Doc = dict[str, Any]


def _reclaim_run() -> Doc:
    doc = scenario(
        wl("a-1", "team-a", gpus=2),
        wl("a-2", "team-a", gpus=2, submit_at=1),
        wl("a-nb", "team-a", gpu_fraction=0.5, type="interactive"),
        wl("b-1", "team-b", gpus=2, submit_at=50),
        cluster=one_node(gpus=5),
        projects=[
            {"name": "team-a", "deserved_gpus": 2},
            {"name": "team-b", "deserved_gpus": 2},
        ],
        until=100,
    )
    return to_document(run(doc))


def test_an_eviction_says_when_what_why_its_kind_and_whom_it_made_room_for() -> None:
    doc = _reclaim_run()
    (e,) = doc["evictions"]
    assert e["workload"] == "a-2" and e["project"] == "team-a"  # the most recently started
    assert (e["t"], e["gpus"], e["reason"], e["kind"], e["by"]) == (50, 2.0, "Reclaimed",
                                                                    "reclaim", "b-1")  # fmt: skip
    assert isinstance(e["cycle"], int) and e["cycle"] >= 1
    later = [b for b in doc["bindings"] if b["workload"] == "b-1"]
    assert later and later[0]["cycle"] > e["cycle"] - 1 and later[0]["t"] == 50


def test_replaying_the_bindings_and_evictions_gives_the_final_placement() -> None:
    doc = _reclaim_run()
    events = sorted(
        [(b["cycle"], 1, "bind", b) for b in doc["bindings"]]
        + [(e["cycle"], 0, "evict", e) for e in doc["evictions"]],
        key=lambda x: (x[0], x[1]),
    )
    where: dict[str, list[tuple[str, tuple[int, ...], float]]] = {}
    for _, _, kind, entry in events:
        if kind == "evict":
            where.pop(entry["workload"], None)
        else:
            where[entry["workload"]] = [
                (p["node"], tuple(p["gpu_indices"]), p["gpus"]) for p in entry["pods"]
            ]
    final = {
        name: [(p["node"], tuple(p["gpu_indices"]), p["gpus"]) for p in w["pods"]]
        for name, w in doc["final"]["workloads"].items()
        if w["state"] == "running"
    }
    assert where == final


def test_final_workloads_say_whether_they_are_preemptible() -> None:
    workloads = _reclaim_run()["final"]["workloads"]
    assert workloads["a-1"]["preemptible"] is True
    assert workloads["a-nb"]["preemptible"] is False
