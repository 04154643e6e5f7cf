"""Departments: nesting, cycles, cascading delete, and the over-commit warnings.

Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, SCHEDULER, department, project
from tests.api.helpers import audit, create, generation, issues, read


def test_every_department_field_is_stored(client: TestClient) -> None:
    create(client, "departments", department("org", deserved_gpus=64))
    fields = {"parent": "org", "deserved_gpus": 16, "over_quota_weight": 0.5,
              "limit_gpus": 32, "priority": 2}

    create(client, "departments", department("ml", **fields))

    found = read(client, "departments", "ml")
    assert {k: found[k] for k in fields} == fields


INVALID_DEPARTMENTS = [
    pytest.param({"parent": "ghost"}, "parent", "department 'ghost' does not exist",
                 id="an unknown parent is rejected"),
    pytest.param({"deserved_gpus": 3, "limit_gpus": 1}, "limit_gpus",
                 "must be at least deserved_gpus (3), got 1", id="limit below deserved"),
    pytest.param({"deserved_gpus": "-2"}, "deserved_gpus", "must not be negative",
                 id="negative deserved gpus"),
    pytest.param({"name": "ML"}, "name", "DNS-1123", id="uppercase names are not DNS labels"),
    pytest.param({"node_pools": []}, "node_pools", "is not a field",
                 id="departments have no node pools"),
]


@pytest.mark.parametrize(("fields", "field", "reason"), INVALID_DEPARTMENTS)
def test_invalid_department_is_rejected(
    client: TestClient, fields: dict[str, Any], field: str, reason: str
) -> None:
    response = client.post("/api/v1/departments", json=department(**fields), headers=ADMIN)

    assert response.status_code == 422
    assert any(f == field and reason in r for f, r in issues(response)), issues(response)


CYCLES = [
    pytest.param("a", "a -> a", id="a department cannot be its own parent"),
    pytest.param("b", "a -> b -> a", id="a department cannot move under its child"),
    pytest.param("c", "a -> c -> b -> a", id="nor under its grandchild"),
]


@pytest.mark.parametrize(("new_parent", "path"), CYCLES)
def test_a_department_cycle_is_rejected(client: TestClient, new_parent: str, path: str) -> None:
    create(client, "departments", department("a"))
    create(client, "departments", department("b", parent="a"))
    create(client, "departments", department("c", parent="b"))

    response = client.patch("/api/v1/departments/a", json={"parent": new_parent}, headers=ADMIN)

    assert response.status_code == 422
    assert issues(response) == [("parent", f"would make a department cycle: {path}")]
    assert read(client, "departments", "a")["parent"] is None


def test_a_department_may_move_and_return_to_the_top_level(client: TestClient) -> None:
    create(client, "departments", department("a"))
    create(client, "departments", department("b"))

    moved = client.patch("/api/v1/departments/b", json={"parent": "a"}, headers=ADMIN)
    back = client.patch("/api/v1/departments/b", json={"parent": None}, headers=ADMIN)

    assert moved.json()["parent"] == "a" and back.json()["parent"] is None


def test_a_department_cannot_take_a_project_name(client: TestClient) -> None:
    create(client, "projects", project("shared"))

    response = client.post("/api/v1/departments", json=department("shared"), headers=ADMIN)

    assert response.status_code == 409 and "taken by a project" in issues(response)[0][1]


@pytest.mark.parametrize(
    "child_kind", ["projects", "departments"], ids=["a project", "a sub-department"]
)
def test_deleting_a_department_with_children_is_refused(
    client: TestClient, child_kind: str
) -> None:
    create(client, "departments", department("ml"))
    child = {"projects": project("p", department="ml"),
             "departments": department("sub", parent="ml")}[child_kind]
    create(client, child_kind, child)
    gen = generation(client)

    response = client.delete("/api/v1/departments/ml", headers=ADMIN)

    assert response.status_code == 409
    assert "cascade=true" in issues(response)[0][1]
    assert read(client, "departments", "ml")["name"] == "ml" and generation(client) == gen


def test_cascade_deletes_the_whole_subtree_with_an_audit_entry_each(client: TestClient) -> None:
    create(client, "departments", department("ml"))
    create(client, "departments", department("vision", parent="ml"))
    create(client, "projects", project("p1", department="ml"))
    create(client, "projects", project("p2", department="vision"))
    create(client, "projects", project("elsewhere"))
    gen = generation(client)

    response = client.delete("/api/v1/departments/ml", params={"cascade": True}, headers=ADMIN)

    assert response.status_code == 204
    tree = client.get("/api/v1/quota-tree", headers=ADMIN).json()
    assert tree["departments"] == [] and [p["name"] for p in tree["projects"]] == ["elsewhere"]
    deletes = [(e["kind"], e["name"]) for e in audit(client) if e["action"] == "delete"]
    assert sorted(deletes) == [("department", "ml"), ("department", "vision"),
                               ("project", "p1"), ("project", "p2")]
    assert tree["generation"] == gen + 1  # one write, one generation


def test_children_deserving_more_than_their_department_get_a_warning(client: TestClient) -> None:
    create(client, "departments", department("ml", deserved_gpus=8))
    create(client, "projects", project("a", department="ml", deserved_gpus=5))

    over = client.post(
        "/api/v1/projects", json=project("b", department="ml", deserved_gpus=4), headers=ADMIN
    )

    assert over.status_code == 201
    [(field, reason)] = [(w["field"], w["reason"]) for w in over.json()["warnings"]]
    assert field == "deserved_gpus"
    assert "children of department 'ml' deserve 9 GPUs together, more than its 8" in reason


def test_shrinking_a_department_below_its_children_warns(client: TestClient) -> None:
    create(client, "departments", department("ml", deserved_gpus=8))
    create(client, "projects", project("a", department="ml", deserved_gpus=6))

    response = client.patch("/api/v1/departments/ml", json={"deserved_gpus": 4}, headers=ADMIN)

    assert response.status_code == 200
    assert "deserve 6 GPUs together, more than its 4" in response.json()["warnings"][0]["reason"]


def test_total_quota_above_reported_capacity_warns_only_once_capacity_is_known(
    client: TestClient,
) -> None:
    before = create(client, "projects", project("a", deserved_gpus=20))
    report = {"cycle_at": 1, "capacity_gpus": 16, "projects": [], "pending": []}
    assert client.put("/api/v1/status", json=report, headers=SCHEDULER).status_code == 204

    after = create(client, "projects", project("b", deserved_gpus=1))

    assert before["warnings"] == []
    [warning] = after["warnings"]
    assert "deserve 21 GPUs together, more than the cluster's 16 GPUs" in warning["reason"]


def test_list_departments_filters_by_parent(client: TestClient) -> None:
    create(client, "departments", department("org"))
    create(client, "departments", department("ml", parent="org"))

    found = client.get("/api/v1/departments", params={"parent": "org"}, headers=ADMIN).json()

    assert [d["name"] for d in found["items"]] == ["ml"]


def test_department_delete_honours_if_match(client: TestClient) -> None:
    stale = create(client, "departments", department("ml"))["etag"]
    client.patch("/api/v1/departments/ml", json={"priority": 1}, headers=ADMIN)

    refused = client.delete("/api/v1/departments/ml", headers={**ADMIN, "If-Match": stale})
    current = read(client, "departments", "ml")["etag"]
    accepted = client.delete("/api/v1/departments/ml", headers={**ADMIN, "If-Match": current})

    assert (refused.status_code, accepted.status_code) == (412, 204)
