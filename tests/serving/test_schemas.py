"""Tests of the request models: the canonical transaction and its validation messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fraudwatch.serving._errors import field_problems
from fraudwatch.serving._schemas import BatchRequest, FeedbackRequest, TransactionIn

BASE: dict[str, Any] = {
    "transaction_id": "tx-1",
    "timestamp": "2024-05-01T12:30:00Z",
    "card_id": "card-1",
    "amount": 12.5,
}


def problems(payload: dict[str, Any]) -> dict[str, str]:
    """Validate ``payload`` and return ``{field: message}`` of its problems."""
    with pytest.raises(ValidationError) as info:
        TransactionIn.model_validate(payload)
    return {p["field"]: p["message"] for p in field_problems(info.value.errors())}


@given(
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    offset_min=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_timestamp_forms_agree(seconds: int, offset_min: int) -> None:
    """Check that epoch seconds and ISO-8601 with any offset give the same UTC instant."""
    instant = datetime.fromtimestamp(seconds, tz=UTC)
    local = instant.astimezone(timezone(timedelta(minutes=offset_min)))
    a = TransactionIn.model_validate({**BASE, "timestamp": seconds})
    b = TransactionIn.model_validate({**BASE, "timestamp": local.isoformat()})
    assert a.timestamp == b.timestamp == instant
    assert b.timestamp.utcoffset() == timedelta(0)


def test_naive_timestamp_is_refused() -> None:
    """Check that a timestamp without a zone is refused with a hint."""
    msg = problems({**BASE, "timestamp": "2024-05-01T12:30:00"})["timestamp"]
    assert "time zone" in msg


@given(amount=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=-1e-9))
def test_negative_amount_names_field(amount: float) -> None:
    """Check that any negative amount is reported on the amount field."""
    assert "amount" in problems({**BASE, "amount": amount})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("merchant_category", "541"),
        ("merchant_category", "54a1"),
        ("channel", "web"),
        ("currency", "EURO"),
        ("country", "FRA"),
        ("latitude", 91.0),
        ("longitude", -180.5),
        ("latitude", True),
        ("longitude", "2.35"),
        ("amount", False),
        ("amount", "12.50"),
        ("ip_address", "300.1.1.1"),
        ("card_id", ""),
        ("transaction_id", "x" * 129),
    ],
)
def test_each_bad_field_is_named(field: str, value: Any) -> None:
    """Check that each invalid optional or required field is named in the problems."""
    assert field in problems({**BASE, field: value})


def test_several_bad_fields_all_named() -> None:
    """Check that every invalid field is reported, not only the first."""
    found = problems({**BASE, "amount": -1, "channel": "web", "country": "1"})
    assert {"amount", "channel", "country"} <= set(found)


def test_missing_required_fields_named() -> None:
    """Check that each missing required field is named."""
    found = problems({"amount": 1})
    assert {"transaction_id", "timestamp", "card_id"} <= set(found)


def test_label_column_refused() -> None:
    """Check that sending is_fraud when scoring is refused and points to the feedback API."""
    msg = problems({**BASE, "is_fraud": 1})["is_fraud"]
    assert "/v1/feedback" in msg


def test_unknown_text_field_refused() -> None:
    """Check that an unknown text field is refused (catches typos like 'ammount')."""
    msg = problems({**BASE, "ammount": "12"})["ammount"]
    assert "canonical fields" in msg


def test_numeric_passthrough_field_kept() -> None:
    """Check that an extra numeric field is kept as a pass-through feature."""
    tx = TransactionIn.model_validate({**BASE, "account_age_days": 120})
    assert tx.model_dump()["account_age_days"] == 120


@given(
    code=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3
    )
)
def test_currency_is_upper_cased(code: str) -> None:
    """Check that a 3-letter currency in any case is stored upper-case."""
    tx = TransactionIn.model_validate({**BASE, "currency": code})
    assert tx.currency == code.upper()


def test_ipv6_is_normalised() -> None:
    """Check that an IP address is stored in its canonical text form."""
    tx = TransactionIn.model_validate(
        {**BASE, "ip_address": "2001:0db8:0000:0000:0000:0000:0000:0001"}
    )
    assert tx.ip_address == "2001:db8::1"


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:01+03:00", "9999-12-31T23:59:59-01:00"], ids=["before", "after"]
)
def test_timestamp_beyond_utc_range_is_refused(stamp: str) -> None:
    """Check that a local time whose UTC instant is outside years 1-9999 names the field."""
    assert "out of range" in problems({**BASE, "timestamp": stamp})["timestamp"]
    aware = datetime.fromisoformat(stamp)
    assert "out of range" in problems({**BASE, "timestamp": aware})["timestamp"]


def test_boolean_timestamp_refused() -> None:
    """Check that true/false is not taken as epoch seconds."""
    assert "timestamp" in problems({**BASE, "timestamp": True})


def test_batch_item_errors_carry_index() -> None:
    """Check that an invalid item of a batch is reported with its position."""
    with pytest.raises(ValidationError) as info:
        BatchRequest.model_validate({"transactions": [BASE, {**BASE, "amount": -2}]})
    fields = [p["field"] for p in field_problems(info.value.errors())]
    assert fields == ["transactions.1.amount"]


def test_feedback_label_choices() -> None:
    """Check that an unknown feedback label is refused."""
    with pytest.raises(ValidationError, match="label"):
        FeedbackRequest.model_validate(
            {"transaction_id": "t", "label": "maybe", "source": "analyst"}
        )


@settings(max_examples=50)
@given(
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
    amount=st.floats(min_value=0, max_value=1e9),
)
def test_valid_values_round_trip(lat: float, lon: float, amount: float) -> None:
    """Check that every in-range coordinate and amount is accepted unchanged."""
    tx = TransactionIn.model_validate({**BASE, "latitude": lat, "longitude": lon, "amount": amount})
    assert (tx.latitude, tx.longitude, tx.amount) == (lat, lon, amount)
