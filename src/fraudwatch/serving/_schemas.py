"""Request and response bodies of the decision API (pydantic models, documented in OpenAPI).

The transaction body follows the canonical schema (:mod:`fraudwatch.schema.columns`):
``transaction_id``, ``timestamp`` (ISO-8601 with a zone, or epoch seconds), ``card_id`` and
``amount`` are required; the other canonical columns are optional. Extra fields are accepted
only as numbers (pass-through numeric features); label columns are refused.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "CaseDetail",
    "CaseList",
    "CaseSummary",
    "ErrorBody",
    "ErrorDetail",
    "FeedbackOut",
    "FeedbackRequest",
    "FeedbackResponse",
    "FieldProblem",
    "HealthResponse",
    "ModelInfo",
    "ReadyResponse",
    "ReasonOut",
    "RecentTransaction",
    "ReloadResponse",
    "ResolveRequest",
    "ScoreResponse",
    "TransactionIn",
]

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
OptId = Annotated[
    str | None, Field(default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Decision = Literal["allow", "review", "decline"]

_CANONICAL = frozenset(
    {
        "transaction_id",
        "timestamp",
        "card_id",
        "amount",
        "customer_id",
        "merchant_id",
        "terminal_id",
        "merchant_category",
        "channel",
        "currency",
        "country",
        "latitude",
        "longitude",
        "device_id",
        "ip_address",
    }
)
_LABELS = frozenset({"is_fraud", "fraud_scenario"})
_MAX_EXTRA = 64
_AWARE = TypeAdapter(AwareDatetime)
# 1970-01-01 .. 9999-12-31 in epoch seconds
_EPOCH_MAX = 253_402_300_799.0

_TX_EXAMPLE: dict[str, Any] = {
    "transaction_id": "tx-000123",
    "timestamp": "2024-05-01T12:30:00Z",
    "card_id": "card-42",
    "amount": 129.90,
    "customer_id": "cust-7",
    "merchant_id": "m-981",
    "terminal_id": "t-5531",
    "merchant_category": "5411",
    "channel": "pos",
    "currency": "EUR",
    "country": "FR",
    "latitude": 48.85,
    "longitude": 2.35,
}


def _utc(value: datetime) -> datetime:
    """``value`` in UTC; a local time whose UTC instant falls outside years 1-9999 is refused."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            "is out of range: in UTC it must fall between 0001-01-01 and 9999-12-31"
        ) from None


class TransactionIn(BaseModel):
    """One transaction to score, in the canonical schema."""

    model_config = ConfigDict(
        extra="allow",
        str_strip_whitespace=False,
        json_schema_extra={
            "examples": [_TX_EXAMPLE],
            "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "propertyNames": {"maxLength": 64},
            "maxProperties": len(_CANONICAL) + _MAX_EXTRA,
            "not": {"anyOf": [{"required": [name]} for name in sorted(_LABELS)]},
        },
    )

    transaction_id: Id = Field(description="unique id; retries with the same id are idempotent")
    timestamp: Annotated[
        datetime,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "number", "minimum": 0, "maximum": _EPOCH_MAX},
                ],
                "description": "when it happened: ISO-8601 with a time zone, or epoch seconds",
            }
        ),
    ]
    card_id: Id = Field(description="the card (or account) that pays")
    # strict: a JSON number only (no true/false, no numeric strings), as the spec says
    amount: float = Field(
        ge=0, le=1e12, strict=True, allow_inf_nan=False, description="amount, >= 0"
    )
    customer_id: OptId = None
    merchant_id: OptId = None
    terminal_id: OptId = None
    merchant_category: str | None = Field(
        None, pattern=r"^[0-9]{4}$", description="4-digit MCC as a string (leading zeros kept)"
    )
    channel: Literal["pos", "ecom", "atm"] | None = None
    currency: str | None = Field(
        None, pattern=r"^[A-Za-z]{3}$", description="3-letter ISO 4217 code"
    )
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$", description="2-letter ISO 3166")
    latitude: float | None = Field(None, ge=-90, le=90, strict=True, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, strict=True, allow_inf_nan=False)
    device_id: OptId = None
    ip_address: Annotated[
        str | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "ipv4"},
                    {"type": "string", "format": "ipv6"},
                    {"type": "null"},
                ],
                "description": "IPv4 or IPv6 address",
            }
        ),
    ] = Field(None, max_length=64)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: Any) -> datetime:
        if isinstance(value, bool):
            raise ValueError("must be an ISO-8601 date-time with a time zone or epoch seconds")
        if isinstance(value, int | float):
            v = float(value)
            if not math.isfinite(v) or not 0.0 <= v <= _EPOCH_MAX:
                raise ValueError("epoch seconds must be between 0 and 253402300799")
            return datetime.fromtimestamp(v, tz=UTC)
        if isinstance(value, str):
            try:
                parsed = _AWARE.validate_python(value)
            except ValueError:
                raise ValueError(
                    "must be an ISO-8601 date-time with a time zone "
                    "(e.g. 2024-05-01T12:30:00Z) or epoch seconds"
                ) from None
            return _utc(parsed)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("must carry a time zone, e.g. 2024-05-01T12:30:00Z")
            return _utc(value)
        raise ValueError("must be an ISO-8601 date-time with a time zone or epoch seconds")

    @field_validator("currency", "country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None

    @model_validator(mode="after")
    def _check_extra(self) -> TransactionIn:
        extra = self.__pydantic_extra__
        if not extra:
            return self
        if len(extra) > _MAX_EXTRA:
            raise ValueError(f"at most {_MAX_EXTRA} pass-through fields are accepted")
        for name, value in extra.items():
            if name in _LABELS:
                raise PydanticCustomError(
                    "label_not_allowed",
                    "{field} is a label column and is not accepted when scoring; "
                    "send labels to POST /v1/feedback",
                    {"field": name},
                )
            ok = value is None or (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(float(value))
            )
            if not ok or len(name) > 64:
                raise PydanticCustomError(
                    "unknown_field",
                    "unknown field: extra fields must be numeric pass-through features "
                    "(finite numbers, names up to 64 characters); the canonical fields are "
                    "{canonical}",
                    {"field": name, "canonical": ", ".join(sorted(_CANONICAL))},
                )
        return self

    def to_record(self) -> dict[str, Any]:
        """Return the transaction as a plain dict (timestamp as an aware UTC datetime).

        What ``model_dump()`` returns (the fields, then the pass-through extras), built
        straight from the validated values: every value is a plain scalar or a datetime, so
        there is nothing to serialise (a twentieth of the cost, on every request).
        """
        extra = self.__pydantic_extra__
        return {**self.__dict__, **extra} if extra else dict(self.__dict__)


class ReasonOut(BaseModel):
    """One reason behind a score: a feature pushing the score up."""

    feature: str
    value: float | str | None
    contribution: float = Field(description="contribution to the raw score (log-odds)")
    phrase: str = Field(description="a sentence an analyst reads")


class ScoreResponse(BaseModel):
    """The decision on one transaction."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "tx-000123",
                    "score": 0.91,
                    "anomaly_score": 0.74,
                    "decision": "decline",
                    "reasons": [
                        {
                            "feature": "amount_ratio_card_30d",
                            "value": 8.2,
                            "contribution": 1.7,
                            "phrase": "amount 8.2x the card's 30-day average",
                        }
                    ],
                    "rules_fired": ["new_device_high_amount"],
                    "model_version": "v3",
                    "case_id": 17,
                    "replayed": False,
                    "server_latency_ms": 1.8,
                }
            ]
        }
    )

    transaction_id: str
    score: float = Field(description="fraud probability-like score; higher is more suspicious")
    anomaly_score: float | None = Field(
        description="unsupervised anomaly score, if the bundle has one"
    )
    decision: Decision
    reasons: list[ReasonOut] = Field(
        description="explanations; computed for review/decline only unless configured otherwise"
    )
    rules_fired: list[str]
    model_version: str
    case_id: int | None = Field(description="the case opened for a review or decline")
    replayed: bool = Field(description="true when this is the stored decision of a retry")
    server_latency_ms: float = Field(description="time spent in the server for this request")


class BatchRequest(BaseModel):
    """Several transactions scored in order in one call."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[TransactionIn] = Field(min_length=1)


class BatchResponse(BaseModel):
    """Decisions of a batch, in request order."""

    results: list[ScoreResponse]
    server_latency_ms: float


class FeedbackRequest(BaseModel):
    """A label for a scored transaction."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "tx-000123",
                    "label": "fraud",
                    "source": "chargeback",
                    "note": "cardholder disputed",
                }
            ]
        },
    )

    transaction_id: Id
    label: Literal["fraud", "legit"]
    source: Literal["analyst", "chargeback", "customer"]
    note: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    """The stored feedback."""

    feedback_id: int
    transaction_id: str
    label: Literal["fraud", "legit"]
    source: Literal["analyst", "chargeback", "customer"]
    note: str | None
    received_at: datetime


class CaseSummary(BaseModel):
    """A case in a list."""

    case_id: int
    transaction_id: str
    card_id: str
    amount: float
    status: Literal["open", "resolved"]
    decision: Decision
    score: float
    opened_at: datetime
    resolved_at: datetime | None
    resolution: Literal["fraud", "legit"] | None
    resolved_by: str | None
    note: str | None


class CaseList(BaseModel):
    """A page of cases, oldest first; pass ``next_cursor`` back to get the next page."""

    cases: list[CaseSummary]
    next_cursor: str | None


class RecentTransaction(BaseModel):
    """One of the card's earlier decided transactions."""

    transaction_id: str
    timestamp: datetime
    amount: float
    decision: Decision
    score: float


class FeedbackOut(BaseModel):
    """A label received for the case's transaction."""

    feedback_id: int
    label: Literal["fraud", "legit"]
    source: Literal["analyst", "chargeback", "customer"]
    note: str | None
    received_at: datetime
    actor: str


class CaseDetail(CaseSummary):
    """A case with the transaction, its score, reasons and the card's recent history."""

    transaction: dict[str, Any]
    anomaly_score: float | None
    reasons: list[ReasonOut]
    rules_fired: list[str]
    model_version: str
    feedback: list[FeedbackOut]
    recent_transactions: list[RecentTransaction] = Field(
        description="the card's earlier decisions, most recent first"
    )


class ResolveRequest(BaseModel):
    """How an analyst closed a case."""

    model_config = ConfigDict(extra="forbid")

    resolution: Literal["fraud", "legit"] = Field(
        description="the analyst's verdict; it is also recorded as feedback (source analyst)"
    )
    note: str | None = Field(None, max_length=2000)


class ModelInfo(BaseModel):
    """The loaded model bundle."""

    model_version: str
    manifest: dict[str, Any]


class ReloadResponse(BaseModel):
    """Outcome of a model reload."""

    previous_version: str
    model_version: str
    reloaded: bool = Field(description="false when the champion was already loaded")


class HealthResponse(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class ReadyResponse(BaseModel):
    """Readiness: each dependency and whether it answered."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
    model_version: str | None


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="dotted path of the field, e.g. transactions.2.amount")
    message: str
    type: str


class ErrorDetail(BaseModel):
    """What went wrong and how to fix it."""

    code: str = Field(description="machine-readable kind, e.g. validation_error, unauthorized")
    message: str
    request_id: str = Field(description="quote it when reporting a problem")
    fields: list[FieldProblem] | None = None


class ErrorBody(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail
