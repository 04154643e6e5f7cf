"""The API under attack (issue 10, items 1-2): huge bodies, anonymous bodies, GPU amounts
built to be expensive. Each attack asserts the status, the message, the server's memory
and that /healthz keeps answering within 1 s meanwhile. SQLite only: the guards sit in
front of the database, so the backend does not matter and one is faster."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import (
    ADMIN,
    SCHEDULER,
    TOKENS,
    TOKENS_ENV,
    LiveServer,
    start_live_server,
)
from tests.api.helpers import issues
from tests.api.netfaults import HealthProbe, raw_request, rss_mib

BIG = 52 * 10**6  # the size that took the server from 99 to 1,403 MiB


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole module: every attack here leaves nothing behind."""
    db = tmp_path_factory.mktemp("attacks") / "quotient.db"
    server = start_live_server(create_app(Settings(db_url=f"sqlite:///{db}", tokens=TOKENS_ENV)))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        yield http


def _zeros(total: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield b"0" * chunk


def _head(method: str, path: str, token: str | None, length: int | None) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: api", "Content-Type: application/json"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    lines.append(framing)
    return "\r\n".join(lines) + "\r\n\r\n"


def _chunked(total: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield f"{chunk:x}\r\n".encode() + b"0" * chunk + b"\r\n"


def _reason(answer: bytes) -> str:
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    return str(body["detail"][0]["reason"])


ATTACKS = [
    pytest.param("POST", "/api/v1/projects", None, BIG, 401, "bearer token",
                 id="an anonymous 52 MB body gets 401 before it is read"),
    pytest.param("PUT", "/api/v1/status", "not-a-token", BIG, 401, "bearer token",
                 id="a 52 MB status report with a wrong token gets 401 before it is read"),
    pytest.param("POST", "/api/v1/projects", TOKENS["admin"], BIG, 413, "65536 bytes",
                 id="an admin's 52 MB project body gets 413 by its Content-Length"),
    pytest.param("PATCH", "/api/v1/projects/a", TOKENS["admin"], None, 413, "65536 bytes",
                 id="an admin's chunked body gets 413 once it passes the limit"),
    pytest.param("PUT", "/api/v1/status", TOKENS["scheduler"], None, 413, "16777216 bytes",
                 id="a chunked status report gets 413 past its own, larger limit"),
]


@pytest.mark.parametrize(("method", "path", "token", "length", "status", "says"), ATTACKS)
def test_a_huge_body_is_refused_without_being_read(
    live: LiveServer, method: str, path: str, token: str | None, length: int | None,
    status: int, says: str,
) -> None:
    before = rss_mib()
    chunks = _zeros(BIG) if length is not None else _chunked(BIG)
    with HealthProbe(live.url).running() as probe:
        answered, answer, sent = raw_request(live.url, _head(method, path, token, length), chunks)

    assert answered == status, answer[:300]
    assert says in _reason(answer)
    assert sent < BIG // 2  # refused long before the body was through
    assert rss_mib() - before < 40
    assert probe.failures == [] and probe.worst() < 1.0


def test_six_anonymous_huge_bodies_at_once_leave_the_server_small(live: LiveServer) -> None:

    before = rss_mib()
    results: list[int] = []

    def attack() -> None:
        head = _head("POST", "/api/v1/projects", None, BIG)
        results.append(raw_request(live.url, head, _zeros(BIG))[0])

    with HealthProbe(live.url).running() as probe:
        threads = [threading.Thread(target=attack) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert results == [401] * 6
    assert rss_mib() - before < 40
    assert probe.failures == [] and probe.worst() < 1.0


def test_a_body_within_the_limit_still_works(client: httpx.Client) -> None:
    ok = client.post("/api/v1/projects", json={"name": "ok", "deserved_gpus": 1}, headers=ADMIN)
    big = client.post(
        "/api/v1/projects", headers=ADMIN,
        json={"name": "too-big", "deserved_gpus": 1, "node_pools": ["x" * 60] * 2000},
    )
    assert ok.status_code == 201
    assert big.status_code == 413
    assert issues(big) == [("body", "the request body is larger than 65536 bytes, "
                                    "the limit of this endpoint")]


# ----------------------------------------------------------------- GPU amounts

EVIL = [
    pytest.param("1e999990", "exponent", id="a million-digit exponent is refused at once"),
    pytest.param("1e999999", "exponent", id="an exponent past Decimal's range is a 422, not 500"),
    pytest.param("1_000", "'_'", id="an underscore is no digit separator here"),
    pytest.param("١", "digits 0-9", id="an Arabic-Indic digit is not a 1"),
    pytest.param(" 4", "spaces", id="a leading space is refused"),
    pytest.param("4\n", "spaces", id="a trailing newline is refused"),
    pytest.param("+4", "sign", id="a plus sign is refused"),
    pytest.param("4.0001", "at most 3 decimals are allowed", id="four decimals are refused"),
    pytest.param("0.5000", "at most 3 decimals are allowed", id="even trailing zeros count"),
    pytest.param("NaN", "finite", id="NaN is not an amount"),
    pytest.param("9" * 5000, "digits 0-9", id="a 5,000-digit string is refused by shape"),
    pytest.param("12345678", "at most 1000000", id="eight digits are out of range"),
]


@pytest.mark.parametrize(("amount", "says"), EVIL)
def test_an_expensive_gpu_string_is_a_quick_422_naming_the_field(
    client: httpx.Client, amount: str, says: str
) -> None:
    start = time.perf_counter()
    response = client.post(
        "/api/v1/projects", json={"name": "a", "deserved_gpus": amount}, headers=ADMIN
    )
    assert time.perf_counter() - start < 1.0
    assert response.status_code == 422
    [(field, reason)] = issues(response)
    assert field == "deserved_gpus" and says in reason
    assert len(reason) < 300  # the value is shown shortened, never echoed whole


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        pytest.param(10**400, "at most 1000000", id="a 400-digit integer is out of range"),
        pytest.param(1e308, "at most 1000000", id="a huge float is out of range"),
        pytest.param(-1, "negative", id="a negative number is refused"),
    ],
)
def test_an_out_of_range_gpu_number_is_a_422(client: httpx.Client, amount: Any, says: str) -> None:
    response = client.post(
        "/api/v1/projects", content=json.dumps({"name": "a", "deserved_gpus": amount}),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    [(field, reason)] = issues(response)
    assert field == "deserved_gpus" and says in reason


GPU_FIELDS = ["deserved_gpus", "fair_share_gpus", "allocated_gpus", "demand_gpus"]


@pytest.mark.parametrize("gpu_field", GPU_FIELDS)
def test_every_gpu_field_of_a_status_report_refuses_an_exponent_quickly(
    live: LiveServer, gpu_field: str
) -> None:
    usage = {"name": "a", "deserved_gpus": 0, "fair_share_gpus": 0, "allocated_gpus": 0,
             "demand_gpus": 0, "running": 0, "pending": 0, gpu_field: "1e999990"}
    report = {"cycle_at": 1, "capacity_gpus": 8, "projects": [usage]}
    with HealthProbe(live.url).running() as probe, httpx.Client(base_url=live.url) as http:
        response = http.put("/api/v1/status", json=report, headers=SCHEDULER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == f"projects[0].{gpu_field}"
    assert probe.worst() < 1.0


def test_capacity_refuses_an_exponent_too(client: httpx.Client) -> None:
    report = {"cycle_at": 1, "capacity_gpus": "1e999999", "projects": []}
    response = client.put("/api/v1/status", json=report, headers=SCHEDULER)
    assert response.status_code == 422
    assert issues(response)[0][0] == "capacity_gpus"


@pytest.mark.parametrize("amount", ["4", "0.5", "1000000", "0.001", "1234567.125"])
def test_plain_decimal_strings_are_still_accepted(client: httpx.Client, amount: str) -> None:
    name = "plain-" + amount.replace(".", "-")
    response = client.post(
        "/api/v1/projects", json={"name": name, "deserved_gpus": amount}, headers=ADMIN
    )
    assert response.status_code in (201, 422)
    if amount == "1234567.125":
        assert "at most 1000000" in issues(response)[0][1]
    else:
        assert response.status_code == 201, response.text
