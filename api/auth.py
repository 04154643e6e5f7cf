"""Bearer-token authentication and role checks.

Owns the token format (`role:token` pairs, comma- or line-separated), hashing them on
sight, and the FastAPI dependencies that answer 401 (no or unknown token) and 403 (known
token, wrong role). It must not keep a plaintext token, read settings or the environment
itself, or know which route needs which role beyond the role sets it exports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError


class Role(StrEnum):
    ADMIN = "admin"  # reads everything, writes departments and projects
    VIEWER = "viewer"  # reads everything
    SCHEDULER = "scheduler"  # reads the quota tree, writes the live status


READERS = frozenset({Role.ADMIN, Role.VIEWER})
WRITERS = frozenset({Role.ADMIN})
TREE_READERS = frozenset({Role.ADMIN, Role.VIEWER, Role.SCHEDULER})
STATUS_WRITERS = frozenset({Role.SCHEDULER})
ANY_ROLE = frozenset(Role)
ACTOR_PATTERN = r"^[a-z]+#[0-9a-f]{8}$"  # TokenHash.fingerprint


class TokenFormatError(ValueError):
    """A token list cannot be parsed; says where and why, never echoing a token."""


@dataclass(frozen=True)
class TokenHash:
    role: Role
    digest: str  # sha256 hex of the token

    @property
    def fingerprint(self) -> str:
        """Short, non-secret identity used as the audit log's actor."""
        return f"{self.role.value}#{self.digest[:8]}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_tokens(text: str, *, source: str) -> tuple[TokenHash, ...]:
    """Parse `role:token` pairs separated by commas or newlines; `#` starts a comment."""
    out: list[TokenHash] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        for item in (part.strip() for part in line.split(",")):
            if item:
                out.append(_parse_pair(item, f"{source} line {lineno}"))
    return tuple(out)


def _parse_pair(item: str, where: str) -> TokenHash:
    role_text, sep, token = item.partition(":")
    if not sep or not token.strip():
        raise TokenFormatError(f"{where}: expected role:token, got an entry without a token")
    try:
        role = Role(role_text.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise TokenFormatError(
            f"{where}: unknown role {role_text.strip()!r} (allowed: {allowed})"
        ) from None
    token = token.strip()
    if any(ch.isspace() for ch in token):
        raise TokenFormatError(f"{where}: a token must not contain whitespace")
    return TokenHash(role=role, digest=hash_token(token))


@dataclass(frozen=True)
class Principal:
    """Who is calling: their role and a fingerprint for the audit log."""

    role: Role
    actor: str


class TokenStore:
    """Token hashes -> roles. Lookups hash the presented token; nothing else is kept."""

    def __init__(self, hashes: Iterable[TokenHash]) -> None:
        self._by_digest = {h.digest: h for h in hashes}

    def __len__(self) -> int:
        return len(self._by_digest)

    def principal(self, token: str) -> Principal | None:
        found = self._by_digest.get(hash_token(token))
        return None if found is None else Principal(role=found.role, actor=found.fingerprint)


_bearer = HTTPBearer(auto_error=False, description="role:token pairs given to `quotient serve`")


def require(roles: frozenset[Role]) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits a valid bearer token whose role is in `roles`.

    It is `async` although it awaits nothing: FastAPI runs sync dependencies in its thread
    pool, and a hop there per request costs more than hashing a token.
    """

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        store: TokenStore = request.app.state.tokens
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "a bearer token is required", field="Authorization")
        principal = store.principal(credentials.credentials)
        if principal is None:
            raise ApiError(401, "the bearer token is not valid", field="Authorization")
        if principal.role not in roles:
            allowed = " or ".join(sorted(r.value for r in roles))
            raise ApiError(
                403, f"role {principal.role.value} may not do this (needs {allowed})"
            )
        return principal

    return check
