"""Job lists in the input schema of Alibaba's PAI 2020 GPU-cluster simulator, as workloads.

Owns the schema `job_id,user,submit_time,duration,num_gpu,num_cpu,num_inst` (seconds;
`num_gpu` in all), its validation, and the `quotient simulate --trace` input it makes: one
project `pool` deserving the whole pool of `nodes` x `gpus_per_node` GPUs, each job a
train workload of its GPUs (up to a node; a bigger job is a gang of whole nodes plus the
rest), starting when placed and running its duration. It must not run the simulation.
"""

from __future__ import annotations

from pathlib import Path

from fairshare.model import GpuRequest, Node, PodSpec, Workload, WorkloadType
from fairshare.quota_tree import Project, QuotaTree
from simulations.convert import SimulationInput, TimedWorkload
from simulations.experiments.tables import TraceError, integer, read_rows

COLUMNS = ("job_id", "submit_time", "duration", "num_gpu")
PROJECT = "pool"


def _pods(name: str, gpus: int, per_node: int) -> tuple[PodSpec, ...]:
    sizes = [per_node] * (gpus // per_node) + ([gpus % per_node] if gpus % per_node else [])
    return tuple(PodSpec(f"{name}-{i}", GpuRequest(whole=s)) for i, s in enumerate(sizes))


def load_trace(
    path: Path, *, nodes: int = 813, gpus_per_node: int = 8, limit: int = 0,
    cycle_seconds: int = 10,
) -> SimulationInput:
    capacity = nodes * gpus_per_node
    seen: set[str] = set()

    def row(r: dict[str, str], line: int) -> TimedWorkload:
        name = f"job-{r['job_id'].strip()}"
        if name in seen:
            raise ValueError(f"job_id: {r['job_id'].strip()!r} appears twice")
        seen.add(name)
        gpus = integer(r, "num_gpu", minimum=1)
        if gpus > capacity:
            raise ValueError(f"num_gpu: {gpus} is more than the pool's {capacity} GPUs")
        submit = integer(r, "submit_time")
        w = Workload(name, PROJECT, _pods(name, gpus, gpus_per_node), min_pods=0,
                     type=WorkloadType.TRAIN, submit_time=submit)
        return TimedWorkload(w, submit, max(integer(r, "duration"), 1))

    timed = read_rows(path, COLUMNS, row)
    if limit:
        timed = timed[:limit]
    if not timed:
        raise TraceError(f"{path}: no jobs")
    tree = QuotaTree.build([Project(PROJECT, deserved_milli=capacity * 1000)])
    node_list = tuple(
        Node(f"node-{i:04d}", gpu_count=gpus_per_node, gpu_model="gpu", cpu_milli=10**9,
             memory_bytes=1 << 50)
        for i in range(nodes)
    )
    until = max(t.submit_at for t in timed) + sum(t.duration or 0 for t in timed)
    return SimulationInput(path.stem, str(path), until, node_list, tree, tuple(timed),
                           cycle_seconds=cycle_seconds)
