"""The cluster-facing commands: projects files, `quotient run` as a process (metrics, health,
SIGTERM giving the lease back), `quotient snapshot` as a scenario, `quotient explain`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from quotient.cli import build_app
from quotient.kube_cli import load_projects
from scheduler.kube.loopback.server import LoopbackApiServer
from simulations.loader import validate
from simulations.runner import simulate
from tests.kube.builders import eventually, kubeconfig, pod_obj
from tests.kube.conftest import Factory

PROJECTS = """
departments: [{name: research, deserved_gpus: 8}]
projects:
  - {name: team-a, deserved_gpus: 4, department: research}
  - {name: team-b, deserved_gpus: 2.5, limit_gpus: 6}
policy: {cycle_seconds: 1, min_runtime_seconds: 30}
"""

BAD = [
    (
        "a GPU amount with 4 decimals",
        "projects: [{name: a, deserved_gpus: 0.1234}]",
        "projects[0] (a).deserved_gpus: at most 3 decimals",
    ),
    (
        "an unknown field, with a hint",
        "projects: [{name: a, deserved: 1}]",
        "did you mean 'deserved_gpus'?",
    ),
    (
        "a department that does not exist",
        "projects: [{name: a, department: nope}]",
        "department 'nope' does not exist",
    ),
    ("no projects at all", "departments: []", "projects: is required"),
    ("a duplicate key", "projects: []\nprojects: []", "duplicate key"),
]


def test_a_projects_file_reads_like_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(PROJECTS)
    tree, policy, every = load_projects(path)
    assert tree.projects["team-b"].deserved_milli == 2500 and tree.ancestors("team-a") == (
        "research",
    )
    assert (policy.min_runtime_seconds, every) == (30, 1)


@pytest.mark.parametrize(("case", "text", "says"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_projects_file_is_refused_in_one_clear_message(
    tmp_path: Path, case: str, text: str, says: str
) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(text)
    result = CliRunner().invoke(build_app(), ["run", "--projects", str(path)])
    assert result.exit_code == 2 and says in result.output, result.output
    assert "Traceback" not in result.output


def test_run_needs_exactly_one_quota_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["run"])
    assert result.exit_code == 2 and "exactly one of --projects" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except OSError:
        return 0, ""


def test_quotient_run_binds_serves_metrics_and_gives_the_lease_back_on_sigterm(
    apiserver: LoopbackApiServer, tmp_path: Path
) -> None:
    from tests.kube.builders import node_obj

    apiserver.put("/nodes", node_obj("node-1"))
    apiserver.put("/pods", pod_obj("p"), "team-a")
    (tmp_path / "projects.yaml").write_text(PROJECTS)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "quotient",
        "run",
        "--kubeconfig",
        str(kubeconfig(tmp_path / "kubeconfig", apiserver.url)),
        "--projects",
        str(tmp_path / "projects.yaml"),
        "--metrics-port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=Path(__file__).parents[2],
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually(
            lambda: apiserver.store.find("/pods", "team-a", "p")["spec"].get("nodeName"),
            timeout=30,
            what="quotient run to bind the pod",
        )
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        metrics = _get(f"http://127.0.0.1:{port}/metrics")[1]
        assert "quotient_binds_total 1.0" in metrics and "quotient_leader 1.0" in metrics
        assert 'quotient_project_allocated_gpus{project="team-a"} 1.0' in metrics
        lease = apiserver.store.find(
            "coordination.k8s.io/leases", "quotient-system", "quotient-scheduler"
        )
        assert lease is not None and lease["spec"]["holderIdentity"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    lease = apiserver.store.find(
        "coordination.k8s.io/leases", "quotient-system", "quotient-scheduler"
    )
    assert lease is not None and lease["spec"].get("holderIdentity") is None


def test_snapshot_is_a_scenario_that_simulate_replays_and_explain_says_why(
    apiserver: LoopbackApiServer, scheduler: Factory, tmp_path: Path
) -> None:
    live = scheduler(nodes=1)
    apiserver.put("/pods", pod_obj("small", gpus=2), "team-a")
    apiserver.put("/pods", pod_obj("big", gpus=16), "team-b")
    eventually(lambda: len(live.cache.pods.items) == 2)
    live.cycle()
    live.executor.drain()
    config = str(kubeconfig(tmp_path / "kubeconfig", apiserver.url))
    shot = CliRunner().invoke(build_app(), ["snapshot", "--kubeconfig", config])
    assert shot.exit_code == 0, shot.output
    doc = yaml.safe_load(shot.output)
    assert [w["name"] for w in doc["workloads"]] == ["team-a.small"]
    assert "team-b.big" in doc["description"], "what no scenario can hold is named"
    result = simulate(validate(doc, "snapshot"))
    assert result.passed
    why = CliRunner().invoke(build_app(), ["explain", "team-b/big", "--kubeconfig", config])
    assert why.exit_code == 0, why.output
    assert "NoMatchingNode" in why.output and "project team-b: deserved 8" in why.output
    missing = CliRunner().invoke(build_app(), ["explain", "team-b/nope", "--kubeconfig", config])
    assert missing.exit_code == 2 and "not found" in missing.output
