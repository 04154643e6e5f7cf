"""A small synchronous client of the REST API, for the `quotient` CLI.

Owns talking HTTP to a running API (base URL, bearer token, timeouts) and turning its
error bodies into one readable message. It must not validate requests itself: the API is
the one judge, and the CLI prints its verdict.
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiCallError(RuntimeError):
    """The API refused a call or could not be reached; the message is the API's own."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def message_of(response: httpx.Response) -> str:
    """`field: reason; ...` from an error body, or the raw text if it has no such shape."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list) and detail:
        parts = []
        for issue in detail:
            field, reason = issue.get("field"), issue.get("reason", issue)
            parts.append(f"{field}: {reason}" if field else str(reason))
        return "; ".join(parts)
    if isinstance(detail, str):
        return detail
    return response.text or response.reason_phrase


class ApiClient:
    def __init__(
        self, url: str, token: str | None, *, timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _explain(self, response: httpx.Response, path: str) -> str:
        """The API's message, plus what a person at a terminal would do next."""
        message = message_of(response)
        status = response.status_code
        if status == 401:
            return f"{message} (pass --token TOKEN or set QUOTIENT_TOKEN)"
        if (status == 404 and message in ("Not Found", "")) or status in (405, 501):
            return (
                f"nothing answers {self.url}{path} ({status} {message or 'Not Found'}); is "
                f"--url (or QUOTIENT_URL) the API's base URL, e.g. {DEFAULT_URL}?"
            )
        return message

    def call(
        self, method: str, path: str, *, json: Any = None,
        params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON body (None for 204), or ApiCallError with the API's message."""
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiCallError(f"cannot reach the API at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise ApiCallError(self._explain(response, path), response.status_code)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
