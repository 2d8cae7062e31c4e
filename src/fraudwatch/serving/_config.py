"""Configuration of the decision service: one typed value object, built at the edge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fraudwatch.config import Settings
from fraudwatch.errors import ConfigError

__all__ = ["ServiceConfig"]


class ServiceConfig(BaseModel):
    """Everything the decision service needs to start.

    Build it with :meth:`from_settings` (CLI) or directly (tests, embedding). Invalid
    combinations raise :class:`~fraudwatch.errors.ConfigError` through :meth:`build`.

    Examples
    --------
    >>> cfg = ServiceConfig.build(model="champion", auth=False)
    >>> cfg.max_batch
    100
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field("champion", description="model reference: a stage or a version")
    registry: str = Field("models", description="model registry folder or s3:// URL")
    state: str = Field("memory", description="online feature state: 'memory' or a redis:// URL")
    database_url: str = Field("sqlite:///fraudwatch.db", description="SQLAlchemy database URL")
    rules_path: str | None = Field(None, description="rule file applied after the model")
    snapshot_path: str | None = Field(None, description="feature-state snapshot to start warm")
    explain: Literal["flagged", "all", "none"] = Field(
        "flagged", description="which decisions get reasons: review/decline, all or none"
    )
    explainer: Literal["path", "shap"] = Field(
        "path",
        description="how reasons are computed: tree-path attribution (about a prediction's "
        "cost) or TreeSHAP (about a hundred predictions)",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_batch: int = Field(100, ge=1, le=10_000)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    auth: bool = True
    sagemaker: bool = Field(False, description="serve GET /ping and POST /invocations")
    key_cache_seconds: float = Field(
        5.0, ge=0.0, description="how long a verified API key is trusted without a lookup"
    )
    recent_transactions: int = Field(20, ge=0, le=1000)
    reload_poll_seconds: float = Field(
        2.0, gt=0.0, description="how often workers check for a reload asked of another worker"
    )
    db_threads: int = Field(2, ge=1, le=32)
    sqlite_writes: Literal["loop", "thread"] = Field(
        "loop",
        description="SQLite group commit on the event loop (default) or on a writer thread",
    )
    sqlite_commit_interval_ms: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="SQLite on the loop: least time between two group commits; a decision "
        "made sooner after a commit waits for the next one, with the others (0: none)",
    )
    sqlite_checkpoint_ms: float = Field(
        50.0,
        ge=0.0,
        le=10_000.0,
        description="SQLite on the loop: how often a background thread checkpoints the WAL "
        "so that commits on the loop do not (0: SQLite's own checkpoints only)",
    )
    migrate: bool = Field(True, description="apply database migrations at start-up")
    state_prefix: str = Field(
        "fw:", min_length=1, max_length=64, description="prefix of every Redis key"
    )
    gc_freeze: bool = True
    micro_batch: int = Field(
        16,
        ge=1,
        le=1024,
        description="single-transaction requests received together are decided as one group "
        "of at most this many, stage by stage (1: each on its own)",
    )
    loop_monitor_ms: float = Field(
        10.0,
        ge=0.0,
        le=10_000.0,
        description="how often the event-loop lag is sampled and garbage-collection pauses "
        "are published on /metrics (0: neither is measured)",
    )

    @model_validator(mode="after")
    def _check_workers(self) -> ServiceConfig:
        if self.workers > 1 and not self.state.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"--workers {self.workers} needs a shared feature state: with the in-process "
                f"store ({self.state!r}) each worker would keep its own card history and "
                "velocity features would be wrong. Start Redis and pass "
                "--state redis://127.0.0.1:6379/0, or run with --workers 1"
            )
        return self

    @classmethod
    def build(cls, **values: Any) -> ServiceConfig:
        """Validate ``values`` into a config, raising :class:`ConfigError` with field names.

        Raises
        ------
        ConfigError
            A value is invalid or the combination is unsupported.
        """
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for e in exc.errors():
                loc = ".".join(str(p) for p in e["loc"])
                msg = str(e["msg"]).removeprefix("Value error, ")
                problems.append(f"{loc}: {msg}" if loc else msg)
            raise ConfigError("invalid service configuration: " + "; ".join(problems)) from None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        """Build the service config from the global settings and explicit overrides.

        ``None`` overrides are ignored, so CLI options left unset fall back to the settings.
        """
        s = settings.serving
        values: dict[str, Any] = {
            "registry": settings.registry,
            "state": settings.state,
            "database_url": settings.database_url,
            "host": s.host,
            "port": s.port,
            "workers": s.workers,
            "max_batch": s.max_batch,
            "micro_batch": s.micro_batch,
            "max_body_bytes": s.max_body_bytes,
            "auth": s.auth,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(**values)

    @property
    def shared_state(self) -> bool:
        """Whether the feature state is shared between processes (Redis)."""
        return not (self.state == "memory" or self.state.startswith("memory"))
