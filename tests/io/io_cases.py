"""Test helpers for fraudwatch.io: valid canonical rows, corruptions, and file writers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import strategies as st

from fraudwatch.schema import CHANNELS, COLUMNS, canonical_dtypes
from fraudwatch.schema.validate import NOT_UTF8

NAMES = [c.name for c in COLUMNS]
BAD_MARK = "\u27e6BAD\u27e7"
"""Placeholder replaced by bytes that are not UTF-8 when a file is written."""
BAD_BYTES = b"\xff\xfe"

_SAFE = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_:./"
_TRICKY = _SAFE + ',"\n é€;'


def _inner_text(alphabet: str, max_size: int = 10) -> st.SearchStrategy[str]:
    """Text whose ends are not whitespace (readers strip surrounding spaces)."""
    return st.text(alphabet=alphabet, min_size=1, max_size=max_size).filter(
        lambda s: s == s.strip() and s != ""
    )


def ts_text(moment: datetime) -> str:
    """ISO-8601 with a zone, as the writers produce."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@st.composite
def canonical_row(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """One valid row: Python values of the canonical columns (None = missing optional)."""
    moment = draw(
        st.datetimes(
            min_value=datetime(1990, 1, 1), max_value=datetime(2150, 1, 1), timezones=st.just(UTC)
        )
    )
    optional_text = st.none() | _inner_text(_TRICKY)
    return {
        "transaction_id": f"tx{index}-{draw(_inner_text(_SAFE, 6))}",
        "timestamp": moment,
        "card_id": draw(_inner_text(_TRICKY)),
        "amount": draw(st.floats(min_value=0, max_value=1e9, allow_nan=False)),
        "customer_id": draw(optional_text),
        "merchant_id": draw(optional_text),
        "terminal_id": draw(optional_text),
        "merchant_category": draw(st.none() | st.from_regex(r"\A[0-9]{4}\Z")),
        "channel": draw(st.none() | st.sampled_from(CHANNELS)),
        "currency": draw(st.none() | st.from_regex(r"\A[A-Z]{3}\Z")),
        "country": draw(st.none() | st.from_regex(r"\A[A-Z]{2}\Z")),
        "latitude": draw(st.none() | st.floats(min_value=-90, max_value=90)),
        "longitude": draw(st.none() | st.floats(min_value=-180, max_value=180)),
        "device_id": draw(optional_text),
        "ip_address": draw(st.none() | st.ip_addresses().map(str)),
        "is_fraud": draw(st.sampled_from([0, 1])),
        "fraud_scenario": draw(st.none() | _inner_text(_SAFE)),
    }


@dataclass(frozen=True)
class Corruption:
    """A way to break one field, and the reason the validator must give."""

    column: str
    value: Any
    reason: str


CORRUPTIONS: dict[str, Corruption] = {
    "timestamp_text": Corruption("timestamp", "31/01/2024 noon", "timestamp: unparseable"),
    "timestamp_far": Corruption("timestamp", 1.7e12, "timestamp: out of range"),
    "amount_negative": Corruption("amount", -5.5, "amount: negative"),
    "amount_text": Corruption("amount", "12,50", "amount: not a number"),
    "amount_nan": Corruption("amount", "NaN", "amount: NaN"),
    "amount_inf": Corruption("amount", "inf", "amount: infinite"),
    "card_missing": Corruption("card_id", None, "card_id: missing"),
    "id_missing": Corruption("transaction_id", None, "transaction_id: missing"),
    "timestamp_missing": Corruption("timestamp", None, "timestamp: missing"),
    "channel": Corruption("channel", "web", "channel: unknown value"),
    "currency": Corruption("currency", "EURO", "currency: not 3 letters"),
    "country": Corruption("country", "FRA", "country: not 2 letters"),
    "mcc": Corruption("merchant_category", "742", "merchant_category: not 4 digits"),
    "latitude": Corruption("latitude", 91.5, "latitude: out of range"),
    "longitude": Corruption("longitude", -180.5, "longitude: out of range"),
    "label": Corruption("is_fraud", 2, "is_fraud: not 0/1"),
    "undecodable": Corruption("device_id", f"dev{BAD_MARK}x", NOT_UTF8),
}
"""Every row-level problem the validator knows (duplicates are made separately)."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return ts_text(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_bytes(rows: Sequence[dict[str, Any]], columns: Sequence[str] = NAMES) -> bytes:
    """CSV (header + rows) as the csv module writes it; BAD_MARK becomes non-UTF-8 bytes."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if (t := _text(row.get(c))) is None else t for c in columns])
    return buf.getvalue().encode("utf-8").replace(BAD_MARK.encode(), BAD_BYTES)


def jsonl_bytes(rows: Sequence[dict[str, Any]], columns: Sequence[str] = NAMES) -> bytes:
    """JSON Lines; numbers stay JSON numbers; BAD_MARK becomes non-UTF-8 bytes."""
    out = []
    for row in rows:
        obj = {}
        for c in columns:
            value = row.get(c)
            obj[c] = ts_text(value) if isinstance(value, datetime) else value
        out.append(json.dumps(obj, ensure_ascii=False))
    text = "\n".join(out) + "\n"
    return text.encode("utf-8").replace(BAD_MARK.encode(), BAD_BYTES)


def write_rows(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] = NAMES) -> Path:
    """Write rows as CSV or JSON Lines depending on the suffix."""
    data = jsonl_bytes(rows, columns) if path.suffix == ".jsonl" else csv_bytes(rows, columns)
    path.write_bytes(data)
    return path


def expected_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str] = NAMES) -> pl.DataFrame:
    """The accepted frame the reader must return for these valid rows."""
    dtypes = canonical_dtypes()
    data = {c: [r.get(c) for r in rows] for c in columns}
    frame = pl.DataFrame(data, schema={c: dtypes[c] for c in columns})
    return frame


def simple_rows(n: int, start: datetime | None = None) -> list[dict[str, Any]]:
    """n plain valid rows with every canonical column (deterministic)."""
    origin = start or datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "transaction_id": f"t{i}",
            "timestamp": origin + timedelta(minutes=7 * i),
            "card_id": f"c{i % 3}",
            "amount": round(10.0 + i * 1.25, 2),
            "customer_id": f"u{i % 3}",
            "merchant_id": f"m{i % 4}",
            "terminal_id": f"term{i % 5}",
            "merchant_category": "0742" if i % 2 else "5411",
            "channel": CHANNELS[i % 3],
            "currency": "EUR",
            "country": "FR",
            "latitude": 48.85,
            "longitude": 2.35,
            "device_id": f"d{i}",
            "ip_address": "10.0.0.1",
            "is_fraud": int(i % 5 == 4),
            "fraud_scenario": "card_testing" if i % 5 == 4 else "legit",
        }
        for i in range(n)
    ]
