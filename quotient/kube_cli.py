"""`quotient run`, `explain`, `snapshot` and `bench bind`: the commands that face a cluster.

Owns their options, turning bad input into one clear line (exit 2), the projects file for
standalone use (`departments:`, `projects:` and `policy:` with the same fields, defaults and
validation as scenario files: the simulator's own models parse it), and signal handling
(SIGTERM/SIGINT stop the scheduler and hand the lease back). It lives in the composition
layer because it joins the simulator's scenario format with the Kubernetes adapters; it
must not talk to Kubernetes itself (scheduler.kube does) nor schedule.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fairshare.model import Policy
from fairshare.quota_tree import QuotaTree, QuotaTreeError
from fairshare.resources import QuantityError, gpus_to_milli
from scheduler.api_client import HttpQuotaSource, StatusReporter, tree_from_json
from scheduler.kube.bench import FixedQuota, bench_bind
from scheduler.kube.cache import ClusterCache
from scheduler.kube.config import ClusterConfigError, api_client
from scheduler.kube.explain import ExplainError, explain, recorded_quota
from scheduler.kube.fractional import ReservationSpec
from scheduler.kube.run import STATUS_CONFIGMAP, LiveScheduler, RunConfig
from scheduler.kube.snapshot import scenario
from simulations.loader import parse_yaml, validate
from simulations.scenario import (
    DepartmentSpec,
    PolicySpec,
    Problem,
    ProjectSpec,
    ScenarioError,
    problems_from_pydantic,
)

EXIT_BAD_INPUT = 2
log = logging.getLogger("quotient.run")


class ProjectsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    departments: list[DepartmentSpec] = Field(default_factory=list)
    projects: Annotated[list[ProjectSpec], Field(min_length=1)]
    policy: PolicySpec = Field(default_factory=PolicySpec)


def load_projects(path: Path) -> tuple[QuotaTree, Policy, int]:
    """The projects file -> (tree, policy, cycle seconds), or a ScenarioError naming every
    problem."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(source, [Problem("file", f"cannot read it: {e.strerror}")]) from None
    data = parse_yaml(text, source)
    try:
        spec = ProjectsFile.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, problems_from_pydantic(e.errors(), data)) from None
    try:
        tree = tree_from_json(spec.model_dump(mode="json"))
    except (QuotaTreeError, QuantityError) as e:
        raise ScenarioError(source, [Problem("projects", str(e))]) from None
    p = spec.policy
    policy = Policy(
        max_reclaim_milli_per_cycle=None
        if p.max_reclaim_gpus_per_cycle is None
        else gpus_to_milli(p.max_reclaim_gpus_per_cycle),
        min_runtime_seconds=p.min_runtime_seconds,
        placement=p.placement,
        reclaim=p.reclaim,
        preempt=p.preempt,
    )
    return tree, policy, p.cycle_seconds


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _token(token_file: Path | None) -> str:
    if token_file is None:
        raise _fail("--api needs --token-file (a file holding the API token)")
    try:
        return token_file.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise _fail(f"--token-file {token_file}: cannot read it: {e.strerror}") from None


Kubeconfig = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="Kubeconfig file; default: in-cluster config."),
]
ProjectsOpt = Annotated[
    Path | None,
    typer.Option("--projects", help="YAML with departments:, projects:, policy: (standalone)."),
]
ApiOpt = Annotated[str | None, typer.Option("--api", help="Quotient REST API base URL.")]
TokenOpt = Annotated[Path | None, typer.Option("--token-file", help="File with the API token.")]
NamespaceOpt = Annotated[
    str, typer.Option("--namespace", help="The scheduler's namespace (Lease, reservations).")
]


def _quota(projects: Path | None, api: str | None, token_file: Path | None) -> Any:
    if (projects is None) == (api is None):
        raise _fail("give exactly one of --projects FILE.yaml or --api URL --token-file F")
    if projects is not None:
        try:
            return load_projects(projects)
        except ScenarioError as e:
            raise _fail(f"invalid projects file ({len(e.problems)} problem(s)):\n{e}") from None
    return HttpQuotaSource(str(api), _token(token_file))


def run_command(
    kubeconfig: Kubeconfig = None,
    projects: ProjectsOpt = None,
    api: ApiOpt = None,
    token_file: TokenOpt = None,
    namespace: NamespaceOpt = "quotient-system",
    scheduler_name: Annotated[str, typer.Option(help="spec.schedulerName to bind.")] = "quotient",
    leader_elect: Annotated[bool, typer.Option(help="Elect a leader via a Lease.")] = True,
    metrics_port: Annotated[int, typer.Option(help="/metrics, /healthz, /readyz.")] = 8080,
    cycle_seconds: Annotated[
        float | None, typer.Option(help="Cycle at least this often; default: policy or 10.")
    ] = None,
    reservation_image: Annotated[
        str,
        typer.Option(
            envvar="QUOTIENT_RESERVATION_IMAGE",  # the manifests copy the container's image here
            help="Image of GPU reservation pods (runs scheduler.kube.reserve).",
        ),
    ] = "quotient:latest",
    log_level: Annotated[str, typer.Option(help="debug | info | warning")] = "info",
) -> None:
    """Schedule pods with spec.schedulerName=quotient on a live cluster."""
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise _fail(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    source = _quota(projects, api, token_file)
    observers: list[Any] = []
    stale = lambda: False  # noqa: E731
    if isinstance(source, tuple):
        tree, policy, every = source
        quotas: Any = FixedQuota(tree)
    else:
        quotas, policy, every = source, Policy(), 10
        stale = lambda: quotas.stale  # noqa: E731
    try:
        client = api_client(kubeconfig)
    except ClusterConfigError as e:
        raise _fail(str(e)) from None
    config = RunConfig(
        scheduler_name=scheduler_name, namespace=namespace, leader_elect=leader_elect,
        metrics_port=metrics_port, cycle_seconds=cycle_seconds or float(every),
        reservation=ReservationSpec(image=reservation_image),
    )  # fmt: skip
    live = LiveScheduler(client, quotas, policy, config, observers=observers, quota_stale=stale)
    if not isinstance(source, tuple):
        # The report carries the cache's nodes and workloads, so the dashboard shows the
        # live cluster, not only the per-project summary.
        reporter = StatusReporter(str(api), _token(token_file), cluster=live.cache)
        live.loop.observers = (*live.loop.observers, reporter)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping, giving up the lease", signum)
        live.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("quotient %s scheduling %s pods", config.identity, scheduler_name)
    live.run()


def explain_command(
    target: Annotated[str, typer.Argument(help="NAMESPACE/POD")],
    kubeconfig: Kubeconfig = None,
    namespace: NamespaceOpt = "quotient-system",
) -> None:
    """Say why a pod waits (or where it runs) and what would have to change."""
    try:
        for line in explain(api_client(kubeconfig), target, namespace):
            typer.echo(line)
    except (ExplainError, ClusterConfigError) as e:
        raise _fail(str(e)) from None


def snapshot_command(
    kubeconfig: Kubeconfig = None,
    projects: ProjectsOpt = None,
    api: ApiOpt = None,
    token_file: TokenOpt = None,
    namespace: NamespaceOpt = "quotient-system",
    scheduler_name: Annotated[
        str, typer.Option(help="spec.schedulerName of our pods.")
    ] = "quotient",
) -> None:
    """Print the live cluster as a scenario file that `quotient simulate` replays."""
    try:
        client = api_client(kubeconfig)
    except ClusterConfigError as e:
        raise _fail(str(e)) from None
    cache = ClusterCache(client, scheduler_name=scheduler_name, namespace=namespace)
    try:
        cache.list_once()
    except Exception as e:  # any failure to read the cluster is one line, not a traceback
        raise _fail(f"cannot read the cluster: {e}") from None
    if projects is None and api is None:
        tree = _recorded_tree(client, namespace)
    else:
        source = _quota(projects, api, token_file)
        tree = source[0] if isinstance(source, tuple) else source.quota_tree()
    doc = scenario(cache.cluster_state(), tree)
    _print_valid(doc)


def _recorded_tree(client: Any, namespace: str) -> QuotaTree:
    try:
        recorded = recorded_quota(client, namespace)
    except ExplainError as e:
        raise _fail(str(e)) from None
    if recorded is None:
        raise _fail(f"no quota tree recorded in {namespace}/{STATUS_CONFIGMAP}; "
                    f"pass --projects FILE or --api URL --token-file F")  # fmt: skip
    try:
        return tree_from_json(recorded)
    except (QuotaTreeError, QuantityError, KeyError, TypeError) as e:
        raise _fail(f"the recorded quota tree does not parse: {e}") from None


def _print_valid(doc: dict[str, Any]) -> None:
    """Check the document with the simulator's own loader; drop workloads it refuses."""
    for _ in range(2):
        try:
            validate(doc, "snapshot")
            break
        except ScenarioError as e:
            bad = {int(p.entry.split("[")[1].split("]")[0]) for p in e.problems
                   if p.entry.startswith("workloads[")}  # fmt: skip
            if not bad:
                raise _fail(f"the snapshot does not validate:\n{e}") from None
            doc["description"] += "; workloads no scenario can hold: " + ", ".join(
                doc["workloads"][i]["name"] for i in sorted(bad)
            )
            doc["workloads"] = [w for i, w in enumerate(doc["workloads"]) if i not in bad]
    sys.stdout.write(yaml.safe_dump(doc, sort_keys=False))


def bench_bind_command(
    pods: Annotated[int, typer.Option(help="Pending one-GPU pods created at once.")] = 1000,
    nodes: Annotated[int, typer.Option(help="Nodes (GPUs each: enough for all pods).")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Watch to bind against a loopback apiserver: binds/s and p99 pod-to-bind latency."""
    logging.basicConfig(level="ERROR")
    figures = bench_bind(pods, nodes)
    if as_json:
        typer.echo(json.dumps(figures))
    else:
        typer.echo(f"{figures['bound']}/{pods} pods bound on {nodes} nodes: "
                   f"{figures['binds_per_second']} binds/s, p99 pod-to-bind "
                   f"{figures['p99_pod_to_bind_seconds']}s")  # fmt: skip


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("explain")(explain_command)
    app.command("snapshot")(snapshot_command)
    bench.command("bind")(bench_bind_command)
