"""Typed settings of the REST API, read from `QUOTIENT_*` environment variables.

Owns what an operator can configure (database URL, data directory, address, tokens) and
the rule that turns raw `role:token` pairs into hashes as soon as they are read, so no
plaintext token outlives parsing. It must not open the database or build the app
(`api.app.create_app` does), and there is no module-level instance: callers build one.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.auth import TokenHash, parse_tokens
from api.db.engine import DbTimeouts


def _tokens_from_env(value: Any) -> Any:
    # The environment gives a string of pairs; already-parsed hashes pass through.
    if isinstance(value, str):
        return parse_tokens(value, source="QUOTIENT_TOKENS")
    return value


class Settings(BaseSettings):
    """Everything `create_app` needs. Unset values take production-sensible defaults."""

    model_config = SettingsConfigDict(env_prefix="QUOTIENT_", extra="ignore", frozen=True)

    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SQLite file quotient.db under data_dir.",
    )
    data_dir: Path = Field(default=Path(".quotient"), description="Where the SQLite file lives.")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    tokens: Annotated[tuple[TokenHash, ...], NoDecode, BeforeValidator(_tokens_from_env)] = ()
    tokens_file: Path | None = None
    audit_key: SecretStr | None = Field(
        default=None,
        description="Secret that keys the audit log's token fingerprints (name tokens, or "
        "set this, so a viewer cannot test guesses against them).",
    )
    migrate_on_start: bool = True
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a token (for simple scrapers)."
    )
    db_pool_size: int = Field(
        default=8, ge=1, le=200,
        description="Connections per worker process; keep pool x workers < max_connections.",
    )
    db_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    db_lock_timeout_s: float = Field(default=3.0, gt=0, le=60)
    db_statement_timeout_s: float = Field(default=4.0, gt=0, le=600)
    db_pool_timeout_s: float = Field(default=2.0, gt=0, le=60)
    request_timeout_s: float = Field(
        default=4.5, gt=0, le=600,
        description="A request not answered by then gets 503 (the scheduler waits 5 s).",
    )
    body_limit_bytes: int = Field(default=64 * 1024, ge=1024, le=2**30)
    status_body_limit_bytes: int = Field(
        default=16 * 2**20, ge=1024, le=2**31, description="For PUT /api/v1/status only."
    )
    write_concurrency: int = Field(
        default=4, ge=1, le=200, description="Writes in flight per worker; more queue."
    )
    write_queue_timeout_s: float = Field(default=3.0, gt=0, le=60)

    _given_tokens: int = PrivateAttr(default=0)  # how many came from the environment

    @model_validator(mode="after")
    def _merge_tokens_file(self) -> Settings:
        self._given_tokens = len(self.tokens)
        # frozen model: bypass the setter once, during validation, to merge both sources.
        object.__setattr__(self, "tokens", (*self.tokens, *self.read_tokens_file()))
        return self

    def read_tokens_file(self) -> tuple[TokenHash, ...]:
        """The tokens file's entries, read now (at start-up, and again on SIGHUP)."""
        path = self.tokens_file
        if path is None:
            return ()
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"tokens_file {path}: cannot read it: {exc}") from None
        if mode & stat.S_IWOTH:
            raise ValueError(
                f"tokens_file {path}: anyone may write it (mode {stat.filemode(mode)}), so "
                f"anyone could make themselves admin; run chmod o-w {path}"
            )
        return parse_tokens(text, source=str(path))

    def reread_tokens(self) -> tuple[TokenHash, ...]:
        """The environment's tokens as read at start-up, and the tokens file's as now."""
        return (*self.tokens[: self._given_tokens], *self.read_tokens_file())

    def db_timeouts(self) -> DbTimeouts:
        return DbTimeouts(
            connect_s=self.db_connect_timeout_s, lock_s=self.db_lock_timeout_s,
            statement_s=self.db_statement_timeout_s, pool_s=self.db_pool_timeout_s,
        )

    def database_url(self) -> str:
        """The URL to connect to; the SQLite default lives under data_dir."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'quotient.db').resolve()}"
