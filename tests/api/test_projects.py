"""Projects over HTTP: validation (422 naming the field), CRUD, paging, ETags, conflicts.

Every test runs on SQLite and on PostgreSQL (the `backend` fixture)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, department, project
from tests.api.helpers import audit, create, generation, issues, read

INVALID_PROJECTS = [
    pytest.param({"deserved_gpus": -1}, "deserved_gpus", "must not be negative",
                 id="negative deserved gpus is rejected naming the field"),
    pytest.param({"deserved_gpus": "four"}, "deserved_gpus", "must be a number",
                 id="non-numeric deserved gpus is rejected"),
    pytest.param({"deserved_gpus": 1.2345}, "deserved_gpus",
                 "at most 3 decimals are allowed, got 1.2345",
                 id="four decimals are rejected, not rounded"),
    pytest.param({"deserved_gpus": "0.0001"}, "deserved_gpus", "at most 3 decimals",
                 id="four decimals in a string are rejected too"),
    pytest.param({"deserved_gpus": True}, "deserved_gpus", "must be a number",
                 id="a boolean is not a number of gpus"),
    pytest.param({"deserved_gpus": "NaN"}, "deserved_gpus", "finite",
                 id="NaN is not a quota"),
    pytest.param({"deserved_gpus": 2_000_000}, "deserved_gpus", "at most 1000000",
                 id="absurdly large quotas are rejected before the database sees them"),
    pytest.param({"deserved_gpus": 4, "limit_gpus": 2}, "limit_gpus",
                 "must be at least deserved_gpus (4), got 2",
                 id="a limit below the deserved quota is rejected"),
    pytest.param({"limit_gpus": -0.5}, "limit_gpus", "must not be negative",
                 id="a negative limit is rejected"),
    pytest.param({"over_quota_weight": 0.12345}, "over_quota_weight", "at most 3 decimals",
                 id="the weight also has at most three decimals"),
    pytest.param({"department": "nowhere"}, "department", "department 'nowhere' does not exist",
                 id="an unknown department is rejected"),
    pytest.param({"name": "Team_A"}, "name", "DNS-1123 label (lowercase letters, digits and "
                 "'-', starting and ending with a letter or digit, at most 63 characters), "
                 "got 'Team_A'",
                 id="a name that is not a DNS-1123 label is rejected"),
    pytest.param({"name": "a" * 64}, "name", "DNS-1123", id="a 64-character name is too long"),
    pytest.param({"name": "team-"}, "name", "DNS-1123", id="a name may not end with a dash"),
    pytest.param({"node_pools": ["GPU Pool"]}, "node_pools[0]", "DNS-1123",
                 id="node pool names are DNS-1123 labels"),
    pytest.param({"node_pools": ["a100", "a100"]}, "node_pools", "must not repeat",
                 id="a node pool listed twice is rejected"),
    pytest.param({"max_training_seconds": 0}, "max_training_seconds", "greater than or equal",
                 id="a run-time limit must be positive"),
    pytest.param({"max_interactive_seconds": "an hour"}, "max_interactive_seconds",
                 "must be an integer, got 'an hour'", id="a run-time limit must be an integer"),
    pytest.param({"max_interactive_seconds": 60.5}, "max_interactive_seconds",
                 "must be an integer", id="a run-time limit has no fraction"),
    pytest.param({"priority": 1.5}, "priority", "integer", id="priority is an integer"),
    pytest.param({"gpus": 4}, "gpus", "is not a field", id="unknown fields are refused"),
]


@pytest.mark.parametrize(("fields", "field", "reason"), INVALID_PROJECTS)
def test_invalid_project_is_rejected_with_field_and_reason(
    client: TestClient, fields: dict[str, Any], field: str, reason: str
) -> None:
    response = client.post("/api/v1/projects", json=project(**fields), headers=ADMIN)

    assert response.status_code == 422, response.text
    assert any(f == field and reason in r for f, r in issues(response)), issues(response)
    assert client.get("/api/v1/projects", headers=ADMIN).json()["total"] == 0


def test_a_missing_name_is_named(client: TestClient) -> None:
    response = client.post("/api/v1/projects", json={"deserved_gpus": 1}, headers=ADMIN)

    assert response.status_code == 422
    assert ("name", "is required") in issues(response)


def test_a_body_that_is_not_json_is_a_422_on_the_body(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects", content=b"{nope", headers={**ADMIN, "Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert issues(response)[0][0] == "body"


GPU_AMOUNTS = [
    pytest.param("4", 4, id="a string of a whole number"),
    pytest.param(0.5, 0.5, id="half a gpu as a JSON number"),
    pytest.param("0.125", 0.125, id="three decimals are kept exactly"),
    pytest.param(1.25, 1.25, id="a number with two decimals"),
    pytest.param(0, 0, id="zero"),
    pytest.param(10, 10, id="a whole number stays an integer in JSON"),
]


@pytest.mark.parametrize(("given", "shown"), GPU_AMOUNTS)
def test_gpu_amounts_round_trip_exactly_as_json_numbers(
    client: TestClient, given: Any, shown: float
) -> None:
    create(client, "projects", project(deserved_gpus=given, limit_gpus=given))

    raw = client.get("/api/v1/projects/team-a", headers=ADMIN).text
    body = json.loads(raw)
    assert body["deserved_gpus"] == shown and body["limit_gpus"] == shown
    assert type(body["deserved_gpus"]) is type(shown)  # 4, not 4.0 nor "4"


def test_every_field_is_stored_and_returned(client: TestClient) -> None:
    create(client, "departments", department("ml", deserved_gpus=16))
    fields = {
        "department": "ml", "deserved_gpus": 4, "over_quota_weight": 2.5, "limit_gpus": 8,
        "priority": 3, "node_pools": ["a100", "h100"], "max_interactive_seconds": 3600,
        "max_training_seconds": 86400,
    }

    created = create(client, "projects", project(**fields))

    found = read(client, "projects", "team-a")
    assert {k: found[k] for k in fields} == fields
    assert created["warnings"] == []
    assert found["etag"] == created["etag"]


def test_defaults_are_what_design_says(client: TestClient) -> None:
    found = create(client, "projects", project())

    assert found["deserved_gpus"] == 0
    assert found["over_quota_weight"] is None  # null = equal to deserved_gpus
    assert found["limit_gpus"] is None
    assert found["priority"] == 0 and found["node_pools"] == []
    assert found["max_interactive_seconds"] is None and found["max_training_seconds"] is None


def test_create_answers_201_with_etag_and_location(client: TestClient) -> None:
    response = client.post("/api/v1/projects", json=project(), headers=ADMIN)

    assert response.status_code == 201
    assert response.headers["ETag"] == response.json()["etag"]
    assert response.headers["Location"] == "/api/v1/projects/team-a"


def test_a_taken_name_is_a_409(client: TestClient) -> None:
    create(client, "projects", project())

    response = client.post("/api/v1/projects", json=project(deserved_gpus=1), headers=ADMIN)

    assert response.status_code == 409
    assert issues(response) == [("name", "the name 'team-a' is taken by a project")]


def test_a_project_cannot_take_a_department_name(client: TestClient) -> None:
    create(client, "departments", department("ml"))

    response = client.post("/api/v1/projects", json=project("ml"), headers=ADMIN)

    assert response.status_code == 409
    assert "taken by a department" in issues(response)[0][1]


@pytest.mark.parametrize("path", ["/api/v1/projects/a%00b", "/api/v1/projects/UPPER"],
                         ids=["a name with NUL", "a name that is no DNS label"])
def test_a_name_that_cannot_exist_is_a_404(client: TestClient, path: str) -> None:
    assert client.get(path, headers=ADMIN).status_code == 404
    assert client.patch(path, json={"priority": 1}, headers=ADMIN).status_code == 404
    assert client.delete(path, headers=ADMIN).status_code == 404


def test_an_unknown_query_parameter_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/projects", params={"departmnet": "ml"}, headers=ADMIN)

    assert response.status_code == 422
    assert issues(response)[0][0] == "departmnet"
    assert "allowed: department, limit, offset" in issues(response)[0][1]


def test_reading_an_unknown_project_is_a_404(client: TestClient) -> None:
    response = client.get("/api/v1/projects/ghost", headers=ADMIN)

    assert response.status_code == 404
    assert issues(response) == [("name", "project 'ghost' does not exist")]


def test_list_is_paged_by_name(client: TestClient) -> None:
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        create(client, "projects", project(name))

    first = client.get("/api/v1/projects", params={"limit": 2}, headers=ADMIN).json()
    last = client.get("/api/v1/projects", params={"limit": 2, "offset": 4}, headers=ADMIN).json()

    assert [p["name"] for p in first["items"]] == ["alpha", "bravo"]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [p["name"] for p in last["items"]] == ["echo"]


def test_list_filters_by_department(client: TestClient) -> None:
    create(client, "departments", department("ml", deserved_gpus=8))
    create(client, "projects", project("in-ml", department="ml"))
    create(client, "projects", project("top-level"))

    found = client.get("/api/v1/projects", params={"department": "ml"}, headers=ADMIN).json()

    assert [p["name"] for p in found["items"]] == ["in-ml"] and found["total"] == 1


def test_list_answers_304_while_nothing_changed(client: TestClient) -> None:
    create(client, "projects", project())
    first = client.get("/api/v1/projects", headers=ADMIN)

    unchanged = {**ADMIN, "If-None-Match": first.headers["ETag"]}
    again = client.get("/api/v1/projects", headers=unchanged)
    create(client, "projects", project("team-b"))
    after_write = client.get(
        "/api/v1/projects", headers={**ADMIN, "If-None-Match": first.headers["ETag"]}
    )

    assert again.status_code == 304
    assert after_write.status_code == 200 and after_write.json()["total"] == 2


def test_a_write_invalidates_the_cached_list(client: TestClient) -> None:
    create(client, "projects", project(deserved_gpus=1))
    client.get("/api/v1/projects", headers=ADMIN)  # now cached

    client.patch("/api/v1/projects/team-a", json={"deserved_gpus": 3}, headers=ADMIN)

    items = client.get("/api/v1/projects", headers=ADMIN).json()["items"]
    assert items[0]["deserved_gpus"] == 3


def test_failed_writes_change_nothing(client: TestClient) -> None:
    create(client, "projects", project(deserved_gpus=2, limit_gpus=4))
    before = (generation(client), len(audit(client)), read(client, "projects", "team-a"))

    bad = client.patch("/api/v1/projects/team-a", json={"deserved_gpus": 6}, headers=ADMIN)

    assert bad.status_code == 422 and issues(bad)[0][0] == "limit_gpus"
    assert (generation(client), len(audit(client)), read(client, "projects", "team-a")) == before
