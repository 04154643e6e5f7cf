"""`quotient db ...` and `quotient serve` with bad input: one line naming what is wrong,
a non-zero exit, never a traceback, and nothing created by a command that only reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.db.engine import DatabaseUrlError, make_engine
from quotient.cli import build_app

REFUSED_PG = "postgresql+psycopg://postgres@127.0.0.1:1/quotient"


def run(*args: str) -> tuple[int, str]:
    env = {"QUOTIENT_TOKENS": "admin:cli-errors-0123456789"}
    result = CliRunner().invoke(build_app(), list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr.strip()


@pytest.fixture
def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'q.db'}"


CASES = [
    pytest.param(["db", "upgrade", "--revision", "nonsense"], 2,
                 "error: migrations: Can't locate revision identified by 'nonsense'",
                 id="upgrade to an unknown revision"),
    pytest.param(["db", "downgrade", "nonsense"], 2,
                 "error: migrations: Can't locate revision identified by 'nonsense'",
                 id="downgrade to an unknown revision"),
    pytest.param(["db", "current", "--db", "notadb://x"], 2,
                 "error: unsupported database 'notadb' in notadb://x; use sqlite:///PATH or "
                 "postgresql+psycopg://USER@HOST/DB", id="current on a URL of no database"),
    pytest.param(["db", "current", "--db", "not a url"], 2,
                 "error: 'not a url' is not a database URL", id="current on no URL at all"),
    pytest.param(["db", "current", "--db", REFUSED_PG], 1,
                 f"error: database {REFUSED_PG}: connection failed",
                 id="current on a PostgreSQL that refuses the connection"),
    pytest.param(["serve", "--db", "notadb://x"], 2,
                 "error: database: unsupported database 'notadb'", id="serve on a bad URL"),
    pytest.param(["serve", "--db", REFUSED_PG], 1,
                 f"error: database {REFUSED_PG}: connection failed",
                 id="serve on a PostgreSQL that refuses, before listening"),
]


@pytest.mark.parametrize(("args", "code", "says"), CASES)
def test_a_bad_db_command_is_one_line(
    sqlite: str, args: list[str], code: int, says: str
) -> None:
    if "--db" not in args:
        args = [*args, "--db", sqlite]
        run("db", "upgrade", "--db", sqlite)
    exit_code, err = run(*args)
    assert exit_code == code
    assert len(err.splitlines()) == 1 and err.startswith(says), err


def test_downgrade_minus_one_undoes_one_migration(sqlite: str) -> None:
    assert run("db", "upgrade", "--db", sqlite)[0] == 0
    result = CliRunner().invoke(build_app(), ["db", "downgrade", "-1", "--db", sqlite])
    assert result.exit_code == 0, result.output
    assert "database at revision None" in result.stdout


def test_db_current_does_not_create_a_database(tmp_path: Path) -> None:
    path = tmp_path / "none" / "q.db"
    code, err = run("db", "current", "--db", f"sqlite:///{path}")
    assert code == 1
    assert err == f"error: no database at {path} (`quotient db upgrade` creates it)"
    assert not path.exists() and not path.parent.exists()


def test_a_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as after a plain `pip install quotient`
    with pytest.raises(DatabaseUrlError, match=r"pip install 'quotient\[postgres\]'"):
        make_engine("postgresql+psycopg://postgres@127.0.0.1/quotient")
