"""Department depth (issue 10, item 7): the API caps it with a clear 422, deletes even a
very deep chain without recursion, and the scheduler keeps its last good tree when handed
one too deep to divide. SQLite only: the rules are the store's, not the database's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from api.db.models import DepartmentRow, Meta
from api.store.rules import MAX_DEPTH
from scheduler.api_client import HttpQuotaSource
from tests.api.conftest import ADMIN, SCHEDULER, department, project
from tests.api.helpers import audit, create, issues

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def chain(client: TestClient, levels: int, prefix: str = "d") -> None:
    parent = None
    for i in range(levels):
        create(client, "departments", department(f"{prefix}{i}", parent=parent))
        parent = f"{prefix}{i}"


def insert_chain(app: FastAPI, levels: int) -> None:
    """A chain as deep as an old database may hold, written straight into the tables."""
    now = datetime.now(UTC)
    rows = [
        {"name": f"deep{i}", "parent": f"deep{i - 1}" if i else None, "deserved_milli": 0,
         "priority": 0, "revision": 1, "created_at": now, "updated_at": now}
        for i in range(levels)
    ]
    with app.state.db.write() as session:
        session.execute(insert(DepartmentRow), rows)
        session.execute(update(Meta).where(Meta.id == 1).values(generation=Meta.generation + 1))


def test_a_department_below_the_deepest_level_is_refused(client: TestClient) -> None:
    chain(client, MAX_DEPTH)
    response = client.post("/api/v1/departments", headers=ADMIN,
                           json=department("too-deep", parent=f"d{MAX_DEPTH - 1}"))
    assert response.status_code == 422
    assert issues(response) == [("parent", f"would make the department tree {MAX_DEPTH + 1} "
                                           f"levels deep; at most {MAX_DEPTH} are allowed")]


def test_moving_a_subtree_counts_its_own_depth_too(client: TestClient) -> None:
    chain(client, MAX_DEPTH - 2, "a")
    chain(client, 3, "b")  # b0 > b1 > b2: three levels
    response = client.patch("/api/v1/departments/b0", json={"parent": f"a{MAX_DEPTH - 3}"},
                            headers=ADMIN)
    fits = client.patch("/api/v1/departments/b1", json={"parent": f"a{MAX_DEPTH - 3}"},
                        headers=ADMIN)
    assert response.status_code == 422 and "at most" in issues(response)[0][1]
    assert fits.status_code == 200


def test_a_thousand_deep_chain_is_deleted_by_cascade(app: FastAPI, client: TestClient) -> None:
    insert_chain(app, 1000)
    create(client, "projects", project("leaf", department="deep999"))
    response = client.delete("/api/v1/departments/deep0", params={"cascade": True},
                             headers=ADMIN)
    assert response.status_code == 204, response.text
    assert client.get("/api/v1/quota-tree", headers=ADMIN).json()["departments"] == []
    log = client.get("/api/v1/audit", params={"limit": 2, "offset": 999}, headers=ADMIN)
    newest = audit(client)[0]
    assert log.json()["total"] == 1 + 1001  # the chain went in outside the API: unaudited
    assert [(e["kind"], e["name"]) for e in log.json()["items"]] == [
        ("department", "deep999"), ("project", "leaf")]  # the deepest went first
    assert (newest["kind"], newest["name"], newest["action"]) == ("department", "deep0", "delete")


def test_the_scheduler_keeps_its_last_good_tree_when_handed_one_too_deep(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    create(client, "projects", project("a", deserved_gpus=2))
    source = HttpQuotaSource(client=TestClient(app, headers=SCHEDULER))
    good = source.quota_tree()
    insert_chain(app, 600)  # the depth at which the division used to raise

    with caplog.at_level(logging.WARNING):
        kept = source.quota_tree()

    assert kept is good
    assert "levels deep" in caplog.text and "keeping the last good quota tree" in caplog.text
