"""Bad command lines of `quotient simulate` and `quotient bench cycle`: one clear error
line, exit status 2, never a traceback, and outputs checked before anything runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quotient.cli import build_app
from tests.simulations.builders import scenario, wl, write


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["--projects", "0"], "'--projects'", id="no projects is refused"),
        pytest.param(["--runs", "0"], "'--runs'", id="no runs is refused"),
        pytest.param(["--nodes", "0"], "'--nodes'", id="no nodes is refused"),
        pytest.param(["--placement", "foo"], "'--placement'", id="an unknown placement"),
        pytest.param(["--pending", "-1"], "'--pending'", id="a negative pending count"),
        pytest.param(["--running", "1.5"], "'--running'", id="more than all GPUs running"),
        pytest.param(["--running", "-0.1"], "'--running'", id="a negative running share"),
    ],
)
def test_bad_bench_cycle_inputs_are_one_line_errors(args: list[str], says: str) -> None:
    code, _, err = run("bench", "cycle", "--nodes", "2", "--pending", "2", *args)
    assert code == 2
    [line] = [x for x in err.splitlines() if x.startswith("Error:")]
    assert says in line and "Traceback" not in err


def _scenario(tmp_path: Path) -> Path:
    return write(tmp_path, scenario(wl("a-1", gpus=1), until=20))


def test_report_onto_an_existing_file_is_refused_before_running(tmp_path: Path) -> None:
    taken = tmp_path / "report"
    taken.write_text("mine")
    code, out, err = run("simulate", str(_scenario(tmp_path)), "--report", str(taken))
    assert code == 2
    assert err.strip() == f"error: --report: {taken} exists and is not a folder"
    assert out == "" and taken.read_text() == "mine"


def test_json_into_a_folder_is_refused_before_running(tmp_path: Path) -> None:
    code, out, err = run("simulate", str(_scenario(tmp_path)), "--json", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith(f"error: --json: {tmp_path} is a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_json_into_an_unwritable_folder_is_refused_before_running(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, out, err = run(
            "simulate", str(_scenario(tmp_path)), "--json", str(locked / "out" / "r.json")
        )
    finally:
        locked.chmod(0o700)
    assert code == 2 and out == ""
    assert err.strip() == f"error: --json: {locked} is not writable"


def test_json_under_a_file_is_refused_before_running(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    code, out, err = run(
        "simulate", str(_scenario(tmp_path)), "--json", str(tmp_path / "plain" / "r.json")
    )
    assert code == 2 and out == ""
    assert err.strip() == f"error: --json: {tmp_path / 'plain'} is not a folder"


def test_json_dash_writes_the_document_to_stdout_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("simulate", str(_scenario(tmp_path)), "--json", "-")
    assert code == 0, err
    assert json.loads(out)["scenario"]["until"] == 20
    assert not (tmp_path / "-").exists()
