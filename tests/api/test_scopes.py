"""Scoped roles (issue 10, item 9), as Run:ai's subject x role x scope: a department-admin
changes only its department's subtree, a project-editor only its project's fields; a
refusal is a 403 naming the scope it lacks, and is audited with the principal, the source
address and the request id. A status report is one audit entry. SQLite only: scopes are
the store's rules, not the database's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import ADMIN, SCHEDULER, TOKENS_ENV
from tests.api.helpers import audit, create

LEAD = {"Authorization": "Bearer lead-of-research-0123456789"}
EDITOR = {"Authorization": "Bearer editor-of-vision-0123456789"}
SCOPED = ("lead@department-admin/research:lead-of-research-0123456789,"
          "project-editor/vision:editor-of-vision-0123456789")


def _world(path: Path) -> Iterator[TestClient]:
    settings = Settings(db_url=f"sqlite:///{path / 'q.db'}", tokens=f"{TOKENS_ENV},{SCOPED}")
    with TestClient(create_app(settings)) as client:
        create(client, "departments", {"name": "org", "deserved_gpus": 16})
        create(client, "departments", {"name": "research", "parent": "org", "deserved_gpus": 8})
        create(client, "departments", {"name": "ml", "parent": "research"})
        create(client, "departments", {"name": "sales", "parent": "org"})
        create(client, "projects", {"name": "vision", "department": "ml", "deserved_gpus": 2})
        create(client, "projects", {"name": "crm", "department": "sales"})
        yield client


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One world for the refusals: none of them may change it (each test checks)."""
    yield from _world(tmp_path_factory.mktemp("scopes"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[TestClient]:
    yield from _world(tmp_path)


ALLOWED = [
    pytest.param(LEAD, "POST", "/api/v1/projects", {"name": "nlp", "department": "ml"},
                 id="a department-admin creates a project below its department"),
    pytest.param(LEAD, "PATCH", "/api/v1/departments/ml", {"deserved_gpus": 4},
                 id="a department-admin changes a department below its own"),
    pytest.param(LEAD, "PATCH", "/api/v1/projects/vision", {"department": "research"},
                 id="a department-admin moves a project within its subtree"),
    pytest.param(LEAD, "DELETE", "/api/v1/departments/ml?cascade=true", None,
                 id="a department-admin deletes a subtree of its own"),
    pytest.param(EDITOR, "PATCH", "/api/v1/projects/vision", {"deserved_gpus": 3},
                 id="a project-editor changes its project's fields"),
]


def test_a_scoped_role_may_change_what_its_scope_covers(fresh: TestClient) -> None:
    """In this order: each step is allowed in the world the steps before it left."""
    for step in ALLOWED:
        who, method, path, body = step.values
        response = fresh.request(method, path, json=body, headers=who)
        assert response.status_code in (200, 201, 204), (step.id, response.text)


DENIED = [
    pytest.param(LEAD, "PATCH", "/api/v1/departments/research", {"deserved_gpus": 99},
                 "department 'org' is outside 'research'",
                 id="a department-admin may not raise its own department's quota"),
    pytest.param(LEAD, "PATCH", "/api/v1/projects/crm", {"priority": 1},
                 "department 'sales' is outside 'research'",
                 id="a department-admin may not touch another department's project"),
    pytest.param(LEAD, "PATCH", "/api/v1/projects/vision", {"department": "sales"},
                 "department 'sales' is outside 'research'",
                 id="a department-admin may not move a project out of its subtree"),
    pytest.param(LEAD, "POST", "/api/v1/projects", {"name": "top"},
                 "the top level is outside 'research'",
                 id="a department-admin may not create at the top level"),
    pytest.param(EDITOR, "PATCH", "/api/v1/projects/vision", {"department": "research"},
                 "nor move it to another department",
                 id="a project-editor may not move its project"),
    pytest.param(EDITOR, "DELETE", "/api/v1/projects/vision", None,
                 "may only change that project's fields, not delete project 'vision'",
                 id="a project-editor may not delete its project"),
    pytest.param(EDITOR, "PATCH", "/api/v1/departments/ml", {"deserved_gpus": 1},
                 "not update department 'ml'", id="a project-editor may not touch a department"),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "says"), DENIED)
def test_a_scoped_role_is_refused_outside_its_scope_and_the_refusal_is_audited(
    scoped: TestClient, who: dict[str, str], method: str, path: str, body: Any, says: str
) -> None:
    tree_before = scoped.get("/api/v1/quota-tree", headers=ADMIN).json()
    request_id = f"req{abs(hash((method, path, repr(body), says))) % 10**9}"
    response = scoped.request(method, path, json=body,
                              headers={**who, "X-Request-Id": request_id})

    assert response.status_code == 403
    assert says in response.json()["detail"][0]["reason"]
    assert scoped.get("/api/v1/quota-tree", headers=ADMIN).json() == tree_before
    [denied] = [e for e in audit(scoped)
                if e["action"] == "denied" and e["after"]["request_id"] == request_id]
    assert denied["actor"] in ("department-admin#lead", ) or denied["actor"].startswith(
        "project-editor#")
    assert response.headers["x-request-id"] == request_id
    assert denied["after"]["source"] and denied["after"]["path"] == path.split("?")[0]


def test_a_viewer_refused_a_write_is_audited_too(scoped: TestClient) -> None:
    viewer = {"Authorization": "Bearer viewer-secret-0123456789"}
    response = scoped.post("/api/v1/projects", json={"name": "x"},
                           headers={**viewer, "X-Request-Id": "byviewer"})
    assert response.status_code == 403
    assert [e["actor"][:7] for e in audit(scoped) if e["action"] == "denied"
            and e["after"]["request_id"] == "byviewer"] == ["viewer#"]


def test_a_status_report_is_one_audit_entry(scoped: TestClient) -> None:
    usage = {"deserved_gpus": 0, "fair_share_gpus": 0, "allocated_gpus": 0, "running": 0,
             "pending": 0}
    report = {"cycle_at": 7, "capacity_gpus": 16,
              "projects": [{"name": n, **usage} for n in ("vision", "crm")]}
    assert scoped.put("/api/v1/status", json=report, headers=SCHEDULER).status_code == 204
    entries = audit(scoped, kind="status")
    assert [(e["kind"], e["action"], e["after"]) for e in entries] == [
        ("status", "report", {"cycle_at": 7, "capacity_gpus": "16", "projects": 2, "pending": 0})
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("department-admin:lead-of-research-0123456789", "needs a scope",
                     id="a scoped role without its scope"),
        pytest.param("admin/research:lead-of-research-0123456789", "is not scoped",
                     id="a global role with a scope"),
    ],
)
def test_scopes_are_checked_when_tokens_are_read(text: str, says: str) -> None:
    from api.auth import TokenFormatError, parse_tokens

    with pytest.raises(TokenFormatError, match=says):
        parse_tokens(text, source="test")
