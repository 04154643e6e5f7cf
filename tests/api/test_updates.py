"""PATCH and DELETE: partial updates, clearing with null, If-Match (412 changes nothing),
and the audit entry each change leaves. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, department, project
from tests.api.helpers import audit, create, generation, issues, read

UPDATES = [
    pytest.param({"deserved_gpus": 6}, {"deserved_gpus": 6, "limit_gpus": 8},
                 id="raising deserved below the limit is accepted"),
    pytest.param({"limit_gpus": None}, {"limit_gpus": None},
                 id="null clears the limit"),
    pytest.param({"over_quota_weight": 0}, {"over_quota_weight": 0},
                 id="a zero weight is a weight, not a missing one"),
    pytest.param({"node_pools": []}, {"node_pools": []}, id="an empty list allows any pool"),
    pytest.param({"priority": -2}, {"priority": -2}, id="priority may be negative"),
    pytest.param({"max_training_seconds": None, "max_interactive_seconds": 60},
                 {"max_training_seconds": None, "max_interactive_seconds": 60},
                 id="run-time limits are set and cleared independently"),
]


@pytest.mark.parametrize(("patch", "expected"), UPDATES)
def test_patch_changes_only_the_fields_sent(
    client: TestClient, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    original = create(client, "projects", project(
        deserved_gpus=2, limit_gpus=8, over_quota_weight=1, node_pools=["a100"], priority=1,
        max_training_seconds=7200,
    ))

    response = client.patch("/api/v1/projects/team-a", json=patch, headers=ADMIN)

    assert response.status_code == 200, response.text
    found = read(client, "projects", "team-a")
    unchanged = {k: v for k, v in original.items() if k not in expected}
    for key in ("etag", "updated_at", "warnings"):
        unchanged.pop(key)
    assert {k: found[k] for k in expected} == expected
    assert {k: found[k] for k in unchanged} == unchanged
    assert found["etag"] != original["etag"]


INVALID_PATCHES = [
    pytest.param({"deserved_gpus": None}, "deserved_gpus", "must be a number",
                 id="deserved gpus cannot be cleared"),
    pytest.param({"deserved_gpus": 10}, "limit_gpus", "must be at least deserved_gpus (10)",
                 id="the limit rule holds for the merged object"),
    pytest.param({"department": "ghost"}, "department", "does not exist",
                 id="moving to an unknown department is rejected"),
    pytest.param({"name": "renamed"}, "name", "is not a field", id="names are immutable"),
    pytest.param({"priority": None}, "priority", "integer", id="priority cannot be null"),
]


@pytest.mark.parametrize(("patch", "field", "reason"), INVALID_PATCHES)
def test_invalid_patch_is_rejected_and_changes_nothing(
    client: TestClient, patch: dict[str, Any], field: str, reason: str
) -> None:
    create(client, "projects", project(deserved_gpus=2, limit_gpus=8))
    before = read(client, "projects", "team-a")

    response = client.patch("/api/v1/projects/team-a", json=patch, headers=ADMIN)

    assert response.status_code == 422
    assert any(f == field and reason in r for f, r in issues(response)), issues(response)
    assert read(client, "projects", "team-a") == before


def test_patch_with_the_current_etag_succeeds_and_returns_a_new_one(client: TestClient) -> None:
    etag = create(client, "projects", project())["etag"]

    response = client.patch(
        "/api/v1/projects/team-a", json={"deserved_gpus": 1}, headers={**ADMIN, "If-Match": etag}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == response.json()["etag"] != etag


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_stale_if_match_gets_412_and_changes_nothing(client: TestClient, method: str) -> None:
    stale = create(client, "projects", project(deserved_gpus=1))["etag"]
    client.patch("/api/v1/projects/team-a", json={"deserved_gpus": 2}, headers=ADMIN)
    before = (read(client, "projects", "team-a"), generation(client), len(audit(client)))

    response = client.request(
        method, "/api/v1/projects/team-a", json={"deserved_gpus": 3} if method == "PATCH" else None,
        headers={**ADMIN, "If-Match": stale},
    )

    assert response.status_code == 412
    assert issues(response)[0][0] == "If-Match"
    assert (read(client, "projects", "team-a"), generation(client), len(audit(client))) == before


@pytest.mark.parametrize(
    "if_match", ['"r999", {etag}', "*", "W/{etag}", "{bare}"],
    ids=["a list holding the current tag", "a star", "the weak form", "an unquoted tag"],
)
def test_if_match_accepts_any_form_of_the_current_tag(client: TestClient, if_match: str) -> None:
    etag = create(client, "projects", project())["etag"]
    if_match = if_match.format(etag=etag, bare=etag.strip('"'))

    response = client.patch(
        "/api/v1/projects/team-a", json={"priority": 5}, headers={**ADMIN, "If-Match": if_match}
    )

    assert response.status_code == 200


def test_a_patch_that_changes_nothing_keeps_the_etag_and_leaves_no_audit(
    client: TestClient,
) -> None:
    created = create(client, "projects", project(deserved_gpus=2))
    entries, gen = len(audit(client)), generation(client)

    response = client.patch("/api/v1/projects/team-a", json={"deserved_gpus": "2.000"},
                            headers=ADMIN)

    assert response.status_code == 200 and response.json()["etag"] == created["etag"]
    assert (len(audit(client)), generation(client)) == (entries, gen)


def test_delete_removes_the_project(client: TestClient) -> None:
    etag = create(client, "projects", project())["etag"]

    response = client.delete("/api/v1/projects/team-a", headers={**ADMIN, "If-Match": etag})

    assert response.status_code == 204
    assert client.get("/api/v1/projects/team-a", headers=ADMIN).status_code == 404
    assert client.delete("/api/v1/projects/team-a", headers=ADMIN).status_code == 404


def test_patching_an_unknown_project_is_a_404(client: TestClient) -> None:
    response = client.patch("/api/v1/projects/ghost", json={"priority": 1}, headers=ADMIN)

    assert response.status_code == 404


def test_audit_records_who_changed_what_with_before_and_after(client: TestClient) -> None:
    create(client, "departments", department("ml", deserved_gpus=8))
    create(client, "projects", project(department="ml", deserved_gpus=1))
    client.patch("/api/v1/projects/team-a", json={"deserved_gpus": 2}, headers=ADMIN)
    client.delete("/api/v1/projects/team-a", headers=ADMIN)

    entries = audit(client, kind="project", name="team-a")

    assert [e["action"] for e in entries] == ["delete", "update", "create"]  # newest first
    delete, update, create_ = entries
    assert create_["before"] is None and create_["after"]["deserved_gpus"] == 1
    assert (update["before"]["deserved_gpus"], update["after"]["deserved_gpus"]) == (1, 2)
    assert delete["before"]["deserved_gpus"] == 2 and delete["after"] is None
    assert {e["actor"] for e in entries} == {entries[0]["actor"]}
    assert entries[0]["actor"].startswith("admin#") and "admin-secret" not in entries[0]["actor"]
    assert [e["generation"] for e in entries] == sorted((e["generation"] for e in entries),
                                                         reverse=True)


@pytest.mark.parametrize("filters", [{"name": "a\x00b"}, {"actor": "root"}, {"kind": "user"}],
                         ids=["a name with NUL", "an actor that is no fingerprint", "a kind"])
def test_audit_filters_are_validated(client: TestClient, filters: dict[str, str]) -> None:
    response = client.get("/api/v1/audit", params=filters, headers=ADMIN)

    assert response.status_code == 422 and issues(response)[0][0] == next(iter(filters))


def test_audit_filters_and_pages(client: TestClient) -> None:
    for name in ["a", "b", "c"]:
        create(client, "projects", project(name))
    create(client, "departments", department("d"))

    page = client.get("/api/v1/audit", params={"kind": "project", "limit": 2}, headers=ADMIN)

    assert page.json()["total"] == 3
    assert [e["name"] for e in page.json()["items"]] == ["c", "b"]
