"""Load a user mapping file (YAML) into a :class:`~fraudwatch.io.Profile`.

Example (every key is optional; see docs/schema.md)::

    name: acme-bank
    columns:              # canonical column: source column
      transaction_id: tx_ref
      timestamp: booked_at
      card_id: pan_token
      customer_id: pan_token   # one source column may feed several canonical columns
      amount: amt
      channel: chan
    timestamp:
      format: "%d/%m/%Y %H:%M:%S"
      timezone: Europe/Paris
    constants:
      currency: EUR
    values:
      channel: {P: pos, E: ecom, A: atm}
    passthrough: [risk_score]
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fraudwatch.errors import ConfigError
from fraudwatch.io._profiles import Profile
from fraudwatch.schema.timestamps import EPOCH, TimestampSpec

__all__ = ["load_profile_file", "profile_from_mapping"]

Scalar = str | int | float | bool


class _TimestampModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str | None = None
    unit: Literal["s", "ms", "us", "ns"] = "s"
    origin: str | datetime | None = None
    timezone: str = "UTC"


class _ProfileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str = ""
    columns: dict[str, str] = Field(default_factory=dict)
    timestamp: _TimestampModel = Field(default_factory=_TimestampModel)
    constants: dict[str, Scalar] = Field(default_factory=dict)
    values: dict[str, dict[Scalar, Scalar]] = Field(default_factory=dict)
    passthrough: list[str] = Field(default_factory=list)
    unavailable: list[str] = Field(default_factory=list)
    row_number_id: bool = False


_KEYS = ", ".join(_ProfileModel.model_fields)
_TYPE_TAGS = {"str", "int", "float", "bool"}


def _text(value: Scalar, where: str) -> str:
    if isinstance(value, bool):
        raise ConfigError(
            f"{where}: {value!r} was read as a boolean (YAML turns unquoted yes/no/on/off/"
            "true/false into booleans); quote it, e.g. 'yes'"
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _origin(value: str | datetime | None, where: str) -> datetime:
    if value is None:
        return EPOCH
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(
                f"{where}: {value!r} is not an ISO-8601 instant; write e.g. 2013-09-01T00:00:00Z"
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _describe(err: ValidationError, source: str) -> str:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if str(p) not in _TYPE_TAGS)
        loc = loc or "(top level)"
        if e["type"] == "extra_forbidden" and len(e["loc"]) == 1:
            problems.append(f"{loc}: unknown key (allowed at the top level: {_KEYS})")
        elif e["type"] == "extra_forbidden" and e["loc"][0] == "timestamp":
            problems.append(f"{loc}: unknown key (allowed: format, unit, origin, timezone)")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{loc}: unknown key")
        else:
            problems.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return f"mapping file {source} is invalid: " + "; ".join(dict.fromkeys(problems))


def profile_from_mapping(data: Any, *, source: str, default_name: str) -> Profile:
    """Build a profile from parsed YAML.

    Parameters
    ----------
    data:
        The parsed document (a mapping).
    source:
        File name for messages.
    default_name:
        Name used when the document has no ``name``.

    Raises
    ------
    ConfigError
        The document is not a mapping, has an unknown key or an invalid value; the message
        names the key.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"mapping file {source} must be a YAML mapping (key: value lines), "
            f"not a {type(data).__name__}"
        )
    try:
        model = _ProfileModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    ts = model.timestamp
    origin = _origin(ts.origin, f"mapping file {source}: timestamp.origin")
    try:
        spec = TimestampSpec(format=ts.format, unit=ts.unit, origin=origin, timezone=ts.timezone)
    except ConfigError as exc:
        raise ConfigError(f"mapping file {source}: timestamp: {exc}") from None
    constants = {k: _text(v, f"{source}: constants.{k}") for k, v in model.constants.items()}
    values = {
        col: {
            _text(k, f"{source}: values.{col}"): _text(v, f"{source}: values.{col}.{k}")
            for k, v in mapping.items()
        }
        for col, mapping in model.values.items()
    }
    for key, src in model.columns.items():
        if not src.strip():
            raise ConfigError(f"mapping file {source}: columns.{key} is empty; name a column")
    try:
        profile = Profile(
            name=model.name or default_name,
            description=model.description,
            columns=dict(model.columns),
            timestamp=spec,
            constants=constants,
            values=values,
            passthrough=tuple(model.passthrough),
            unavailable=frozenset(model.unavailable),
            row_number_id=model.row_number_id,
        )
    except ConfigError as exc:
        raise ConfigError(f"mapping file {source}: {exc}") from None
    _check_constants(profile, source)
    return profile


def _check_constants(profile: Profile, source: str) -> None:
    """Reject constants that every row would fail on (e.g. ``currency: EURO``)."""
    if not profile.constants:
        return
    import polars as pl

    from fraudwatch.schema.validate import LINE, ROW, ColumnPlan, FieldSource, RowValidator

    plan = ColumnPlan(
        sources={k: FieldSource(constant=v) for k, v in profile.constants.items()},
        timestamp=profile.timestamp,
    )
    raw = pl.DataFrame({LINE: [1], ROW: [0]})
    _, rejected = RowValidator(plan).validate(raw)
    if rejected.height:
        raise ConfigError(
            f"mapping file {source}: constants are not valid values "
            f"({rejected['reason'][0]}); fix them"
        )


def load_profile_file(path: Path) -> Profile:
    """Load a YAML mapping file.

    Raises
    ------
    ConfigError
        Missing or unreadable file, YAML syntax error (with line and column), or an invalid
        mapping (naming the key).
    """
    if not path.exists():
        raise ConfigError(f"mapping file {path} does not exist; check the --profile path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping file {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"mapping file {path} is not valid YAML{where}: {problem}") from None
    return profile_from_mapping(data, source=str(path), default_name=path.stem)
