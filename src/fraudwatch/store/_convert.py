"""Validation of inputs and conversion of rows into records."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from fraudwatch.errors import ConfigError, DataValidationError
from fraudwatch.store._records import ApiKey, AuditEntry, Case, Decision, Feedback
from fraudwatch.store._types import ensure_utc

__all__ = [
    "api_key_from_mapping",
    "api_key_from_row",
    "audit_from_row",
    "case_from_row",
    "check_choice",
    "check_limit",
    "check_time",
    "decision_from_mapping",
    "decision_from_row",
    "feedback_from_row",
    "finite",
    "iso_utc",
    "json_list",
    "json_object",
    "normalize_transaction",
]

MAX_ID_LEN = 128


def iso_utc(value: datetime) -> str:
    """ISO-8601 UTC text with microseconds and ``Z``, as written by ``fraudwatch.io``.

    >>> from datetime import UTC, datetime
    >>> iso_utc(datetime(2024, 1, 31, 23, 59, 1, tzinfo=UTC))
    '2024-01-31T23:59:01.000000Z'
    """
    return ensure_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if allowed, else raise a :class:`ConfigError` naming the choices."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def check_limit(limit: int, *, maximum: int = 1000) -> int:
    """Validate a page size."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise ConfigError(f"limit must be an integer from 1 to {maximum}; got {limit!r}")
    return limit


def check_time(name: str, value: datetime) -> datetime:
    """Validate a timestamp parameter: aware, returned in UTC."""
    if not isinstance(value, datetime):
        raise ConfigError(f"{name} must be a datetime; got {type(value).__name__}")
    try:
        return ensure_utc(value, name=name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def finite(name: str, value: Any, tx_id: str | None = None) -> float:
    """A finite float, or a :class:`DataValidationError` naming the field."""
    if type(value) is float and math.isfinite(value):  # the usual case, without ABC checks
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataValidationError(f"{name} must be a number; got {value!r}", transaction_id=tx_id)
    out = float(value)
    if not math.isfinite(out):
        raise DataValidationError(f"{name} must be finite; got {value!r}", transaction_id=tx_id)
    return out


_JSON_AS_IS = frozenset({str, int, bool, type(None)})
"""Types stored in a JSON document unchanged (checked by exact type, before
:func:`_json_value`)."""


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def normalize_transaction(
    transaction: Mapping[str, Any],
) -> tuple[dict[str, Any], str, datetime, str, float]:
    """Validate a transaction and make it JSON-ready.

    Returns ``(document, transaction_id, timestamp, card_id, amount)``; in the document the
    timestamp is ISO-8601 UTC text and NaN/infinite numbers are ``null``. Whether the other
    values serialise to JSON is checked when the row is written.

    Raises
    ------
    DataValidationError
        A required field (``transaction_id``, ``timestamp``, ``card_id``, ``amount``) is
        missing or malformed.
    """
    raw_id = transaction.get("transaction_id")
    if not isinstance(raw_id, str) or not raw_id or len(raw_id) > MAX_ID_LEN:
        raise DataValidationError(
            f"transaction_id must be a non-empty string of at most {MAX_ID_LEN} characters; "
            f"got {raw_id!r}"
        )
    tx_id = raw_id
    raw_ts = transaction.get("timestamp")
    try:
        ts = datetime.fromisoformat(raw_ts) if isinstance(raw_ts, str) else raw_ts
        if not isinstance(ts, datetime):
            raise ValueError(f"timestamp must be a datetime or ISO-8601 text; got {raw_ts!r}")
        ts = ensure_utc(ts)
    except ValueError as exc:
        raise DataValidationError(str(exc), transaction_id=tx_id) from None
    card_id = transaction.get("card_id")
    if not isinstance(card_id, str) or not card_id or len(card_id) > MAX_ID_LEN:
        raise DataValidationError(
            f"card_id must be a non-empty string of at most {MAX_ID_LEN} characters; "
            f"got {card_id!r}",
            transaction_id=tx_id,
        )
    amount = finite("amount", transaction.get("amount"), tx_id)
    as_is = _JSON_AS_IS
    doc = {str(k): v if type(v) in as_is else _json_value(v) for k, v in transaction.items()}
    doc["timestamp"] = iso_utc(ts)
    return doc, tx_id, ts, card_id, amount


def json_object(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-serialisable dict copy of ``value`` (``{}`` for ``None``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a mapping; got {type(value).__name__}")
    doc = {str(k): _json_value(v) for k, v in value.items()}
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be JSON-serialisable: {exc}") from None
    return doc


def json_list(name: str, value: Sequence[Any], tx_id: str | None = None) -> list[Any]:
    """A list copy of ``value`` (serialisation errors surface when it is written)."""
    if type(value) is not list and (
        isinstance(value, str | bytes) or not isinstance(value, Sequence)
    ):
        raise DataValidationError(
            f"{name} must be a list; got {type(value).__name__}", transaction_id=tx_id
        )
    return [_json_value(v) for v in value]


def decision_from_row(row: Row[Any]) -> Decision:
    """Build a :class:`Decision` from a row of ``decisions``."""
    return decision_from_mapping(row._mapping)


def decision_from_mapping(m: Mapping[Any, Any]) -> Decision:
    """Build a :class:`Decision` from the columns of ``decisions`` by name."""
    return Decision(
        transaction_id=m["transaction_id"],
        timestamp=m["timestamp"],
        card_id=m["card_id"],
        amount=m["amount"],
        score=m["score"],
        anomaly_score=m["anomaly_score"],
        decision=m["decision"],
        reasons=list(m["reasons"]),
        rules_fired=list(m["rules_fired"]),
        model_version=m["model_version"],
        latency_ms=m["latency_ms"],
        created_at=m["created_at"],
        transaction=dict(m["transaction"]),
    )


def case_from_row(row: Row[Any]) -> Case:
    """Build a :class:`Case` from ``cases`` joined with its decision's summary."""
    m = row._mapping
    return Case(
        id=int(m["id"]),
        transaction_id=m["transaction_id"],
        status=m["status"],
        opened_at=m["opened_at"],
        resolved_at=m["resolved_at"],
        resolution=m["resolution"],
        resolved_by=m["resolved_by"],
        note=m["note"],
        decision=m["decision"],
        score=m["score"],
        card_id=m["card_id"],
        amount=m["amount"],
    )


def feedback_from_row(row: Row[Any]) -> Feedback:
    """Build a :class:`Feedback` from ``feedback`` joined with its decision."""
    m = row._mapping
    return Feedback(
        id=int(m["id"]),
        transaction_id=m["transaction_id"],
        label=m["label"],
        source=m["source"],
        note=m["note"],
        received_at=m["received_at"],
        actor=m["actor"],
        card_id=m["card_id"],
        timestamp=m["timestamp"],
    )


def audit_from_row(row: Row[Any]) -> AuditEntry:
    """Build an :class:`AuditEntry` from a row of ``audit_log``."""
    m = row._mapping
    return AuditEntry(
        id=int(m["id"]),
        at=m["at"],
        actor=m["actor"],
        action=m["action"],
        target=m["target"],
        details=dict(m["details"]),
    )


def api_key_from_row(row: Row[Any]) -> ApiKey:
    """Build an :class:`ApiKey` from a row of ``api_keys``."""
    return api_key_from_mapping(row._mapping)


def api_key_from_mapping(m: Mapping[Any, Any]) -> ApiKey:
    """Build an :class:`ApiKey` from the columns of ``api_keys`` by name."""
    return ApiKey(
        id=int(m["id"]),
        name=m["name"],
        prefix=m["prefix"],
        scopes=tuple(m["scopes"]),
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )
