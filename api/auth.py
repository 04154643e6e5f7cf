"""Bearer-token authentication and role checks.

Owns the token format (`[name@]role:token` entries, comma- or line-separated, `#` comment
lines), refusing weak, malformed or duplicate tokens with a message that never echoes one,
hashing them on sight, the audit identity of each (`role#name`, or a keyed fingerprint
`role#1a2b3c4d` that a viewer cannot brute-force without the key), and the FastAPI
dependencies that answer 401 (no or unknown token) and 403 (known token, wrong role). It
must not keep a plaintext token, read settings or the environment itself, or know which
route needs which role beyond the role sets it exports.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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
    # Scoped (Run:ai's subject x role x scope): `department-admin/research:TOKEN`.
    DEPARTMENT_ADMIN = "department-admin"  # reads all; writes within its department's subtree
    PROJECT_EDITOR = "project-editor"  # reads all; changes its one project's fields


SCOPED = frozenset({Role.DEPARTMENT_ADMIN, Role.PROJECT_EDITOR})
READERS = frozenset({Role.ADMIN, Role.VIEWER, *SCOPED})
WRITERS = frozenset({Role.ADMIN, *SCOPED})  # the store narrows scoped roles to their scope
TREE_READERS = frozenset({Role.ADMIN, Role.VIEWER, Role.SCHEDULER, *SCOPED})
STATUS_WRITERS = frozenset({Role.SCHEDULER})
ANY_ROLE = frozenset(Role)
ACTOR_PATTERN = r"^[a-z-]+#[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # TokenStore actors
MIN_TOKEN_LENGTH = 16
MIN_DISTINCT_CHARACTERS = 6
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_TOKEN_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?")  # role#name fits 64
_DEFAULT_AUDIT_KEY = b"quotient-audit"


class TokenFormatError(ValueError):
    """A token list cannot be parsed; says where and why, never echoing a token."""


@dataclass(frozen=True)
class TokenHash:
    role: Role
    digest: str  # sha256 hex of the token
    name: str | None = None  # the operator's name for it, shown in the audit log
    where: str = ""  # "FILE line N", to name it in messages
    scope: str | None = None  # the department or project a scoped role is limited to


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_tokens(text: str, *, source: str) -> tuple[TokenHash, ...]:
    """Parse `[name@]role:token` entries separated by commas or newlines; a line whose first
    character (after spaces) is `#` is a comment. Refuses weak and repeated tokens."""
    out: list[TokenHash] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("#"):
            continue
        for item in (part.strip() for part in line.split(",")):
            if item:
                out.append(_parse_pair(item, f"{source} line {lineno}"))
    check_unique(out)
    return tuple(out)


def check_unique(hashes: Iterable[TokenHash]) -> None:
    """The same token twice (even under one role) is a mistake: which role would it get?"""
    seen: dict[str, TokenHash] = {}
    for entry in hashes:
        first = seen.setdefault(entry.digest, entry)
        if first is not entry:
            raise TokenFormatError(
                f"{entry.where}: the same token as {first.where} ({first.role.value}); "
                "give every role and every client its own token"
            )


def _parse_pair(item: str, where: str) -> TokenHash:
    label, sep, token = item.partition(":")
    token = token.strip()
    if not sep or not token:
        raise TokenFormatError(f"{where}: expected role:token, got an entry without a token")
    name, _, role_and_scope = label.strip().rpartition("@")
    role_text, _, scope = role_and_scope.partition("/")
    try:
        role = Role(role_text.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise TokenFormatError(
            f"{where}: unknown role {role_text.strip()!r} (allowed: {allowed})"
        ) from None
    if name and _TOKEN_NAME.fullmatch(name) is None:
        raise TokenFormatError(
            f"{where}: a token's name must be a DNS label of at most 40 characters, "
            f"got {name!r}"
        )
    _check_scope(role, scope.strip(), where)
    _check_token(token, where)
    return TokenHash(role=role, digest=hash_token(token), name=name or None, where=where,
                     scope=scope.strip() or None)


def _check_scope(role: Role, scope: str, where: str) -> None:
    if role in SCOPED and _NAME.fullmatch(scope) is None:
        raise TokenFormatError(
            f"{where}: role {role.value} needs a scope, e.g. {role.value}/research:TOKEN"
        )
    if role not in SCOPED and scope:
        raise TokenFormatError(f"{where}: role {role.value} is not scoped; drop /{scope}")


def _check_token(token: str, where: str) -> None:
    if any(ch.isspace() for ch in token):
        raise TokenFormatError(f"{where}: a token must not contain whitespace")
    if "#" in token:
        raise TokenFormatError(
            f"{where}: a token must not contain '#' (comments go on lines of their own)"
        )
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_DISTINCT_CHARACTERS:
        weakness = (f"{len(token)} characters" if len(token) < MIN_TOKEN_LENGTH
                    else f"only {len(set(token))} distinct characters")
        raise TokenFormatError(
            f"{where}: the token is too weak ({weakness}); use at least "
            f"{MIN_TOKEN_LENGTH} random characters, e.g. from `openssl rand -hex 16`"
        )


@dataclass(frozen=True)
class Principal:
    """Who is calling: their role, its scope if any, and their name in the audit log."""

    role: Role
    actor: str
    scope: str | None = None


class TokenStore:
    """Token hashes -> roles. Lookups hash the presented token; nothing else is kept."""

    def __init__(self, hashes: Iterable[TokenHash], *, audit_key: bytes | None = None) -> None:
        entries = list(hashes)
        check_unique(entries)  # across sources: the environment and the tokens file
        key = audit_key or _DEFAULT_AUDIT_KEY
        self._by_digest = {
            h.digest: Principal(role=h.role, actor=_actor(h, key), scope=h.scope) for h in entries
        }

    def __len__(self) -> int:
        return len(self._by_digest)

    def principal(self, token: str) -> Principal | None:
        return self._by_digest.get(hash_token(token))


def _actor(entry: TokenHash, key: bytes) -> str:
    """The audit log's name for a token: its given name, or a keyed fingerprint."""
    if entry.name is not None:
        return f"{entry.role.value}#{entry.name}"
    mac = hmac.new(key, entry.digest.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{entry.role.value}#{mac[:8]}"


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
        request.state.principal = principal  # for the audit entry of a refused write
        if principal.role not in roles:
            allowed = " or ".join(sorted(r.value for r in roles))
            raise ApiError(
                403, f"role {principal.role.value} may not do this (needs {allowed})"
            )
        return principal

    return check
