"""Typed settings, loaded once at the edge (CLI or app factory) and passed down.

Sources, lowest to highest priority: defaults, the TOML file (``fraudwatch.toml`` in the
working directory, or the path given with ``--config``), then ``FRAUDWATCH_*`` environment
variables (nested sections with a double underscore: ``FRAUDWATCH_SERVING__PORT=9000``).
Nothing here runs at import time.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudwatch.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_FILE", "ServingSettings", "Settings", "load_settings"]

DEFAULT_CONFIG_FILE = Path("fraudwatch.toml")


class ServingSettings(BaseModel):
    """Settings of the real-time decision service."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    max_batch: int = Field(100, ge=1, description="most transactions in one /v1/score/batch call")
    micro_batch: int = Field(
        16, ge=1, le=1024, description="most /v1/score requests decided together as one group"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024)
    auth: bool = True


class Settings(BaseSettings):
    """All fraudwatch settings.

    Examples
    --------
    >>> s = Settings(label_delay_days=3)
    >>> s.label_delay_days
    3
    """

    model_config = SettingsConfigDict(
        env_prefix="FRAUDWATCH_", env_nested_delimiter="__", extra="forbid"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    seed: int = 42
    label_delay_days: int = Field(7, ge=0)
    registry: str = Field(
        "models", description="model registry: a local folder or s3://bucket/prefix"
    )
    database_url: str = "sqlite:///fraudwatch.db"
    state: str = Field("memory", description="online feature state: 'memory' or a redis:// URL")
    serving: ServingSettings = Field(default_factory=ServingSettings)


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _format_validation(err: ValidationError, source: str) -> str:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        problems.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return f"invalid settings from {source}: " + "; ".join(problems)


def load_settings(
    config_file: Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings from a TOML file, the environment and explicit overrides.

    Parameters
    ----------
    config_file:
        A TOML file. ``None`` reads ``fraudwatch.toml`` if it exists in the working directory.
    overrides:
        Values that win over every other source (e.g. CLI flags).

    Raises
    ------
    ConfigError
        The file is missing or malformed, or a value is invalid; the message names the field.
    """
    file_data: dict[str, Any] = {}
    path = config_file if config_file is not None else DEFAULT_CONFIG_FILE
    if config_file is not None and not path.exists():
        raise ConfigError(f"config file {path} does not exist; check the --config path")
    if path.exists():
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        from_env = Settings().model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, "FRAUDWATCH_* environment variables")) from exc
    merged = _deep_merge(_deep_merge(file_data, from_env), overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, str(path) if file_data else "settings")) from exc
