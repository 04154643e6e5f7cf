"""Small helpers over a TestClient: create things and read them back, asserting success."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN


def create(client: TestClient, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/{kind}", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def read(client: TestClient, kind: str, name: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/{kind}/{name}", headers=ADMIN)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def generation(client: TestClient) -> int:
    response = client.get("/api/v1/quota-tree", headers=ADMIN)
    assert response.status_code == 200, response.text
    return int(response.json()["generation"])


def audit(client: TestClient, **filters: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params={"limit": 500, **filters}, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def issues(response: Any) -> list[tuple[str | None, str]]:
    return [(i["field"], i["reason"]) for i in response.json()["detail"]]
