"""Validation rules: one reason per problem, all problems listed, duplicates, strict mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_cases import CORRUPTIONS, simple_rows, ts_text, write_rows

from fraudwatch.errors import DataValidationError, MissingColumnsError
from fraudwatch.io import read_transactions
from fraudwatch.schema.timestamps import TimestampSpec, parse_timestamp, parse_timestamp_series
from fraudwatch.schema.validate import REASONS


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_each_problem_is_rejected_with_its_reason(tmp_path: Path, kind: str) -> None:
    """Check that each kind of bad value rejects exactly that row with the documented reason."""
    rows = simple_rows(3)
    corruption = CORRUPTIONS[kind]
    rows[1][corruption.column] = corruption.value
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.rejected.select("line", "reason").rows() == [(3, corruption.reason)]
    assert result.data["transaction_id"].to_list() == ["t0", "t2"]


def test_every_reason_is_documented() -> None:
    """Check that every reason the tests provoke appears in the REASONS catalogue."""
    documented = " ".join(REASONS)
    for corruption in CORRUPTIONS.values():
        _, _, problem = corruption.reason.partition(": ")
        assert problem.split(" (")[0] in documented, corruption.reason


def test_all_problems_of_a_row_are_listed(tmp_path: Path) -> None:
    """Check that a row with several problems lists them all, in column order."""
    rows = simple_rows(2)
    rows[1].update(amount=-3.0, channel="web", currency="EURO", card_id=None)
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.rejected["reason"].to_list() == [
        "card_id: missing; amount: negative; channel: unknown value; currency: not 3 letters"
    ]


def test_duplicate_keeps_first_and_rejects_later_across_batches(tmp_path: Path) -> None:
    """Check that a repeated transaction_id is rejected on every later row, batch or not."""
    rows = simple_rows(9)
    rows[4]["transaction_id"] = "t0"
    rows[8]["transaction_id"] = "t0"
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows), batch_rows=2)
    assert result.data["transaction_id"].to_list().count("t0") == 1
    assert result.data["timestamp"][0] == rows[0]["timestamp"]
    assert result.rejected.select("line", "reason").rows() == [
        (6, "transaction_id: duplicate"),
        (10, "transaction_id: duplicate"),
    ]


def test_duplicate_of_a_rejected_row_is_still_a_duplicate(tmp_path: Path) -> None:
    """Check that an id already used by an earlier (even rejected) row is not accepted twice."""
    rows = simple_rows(3)
    rows[0]["amount"] = -1.0
    rows[2]["transaction_id"] = "t0"
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.rejected["reason"].to_list() == ["amount: negative", "transaction_id: duplicate"]


def test_text_values_are_normalised(tmp_path: Path) -> None:
    """Check that channel, currency and country are case-normalised and spaces trimmed."""
    rows = simple_rows(1)
    rows[0].update(channel=" POS ", currency="eur", country="fr", card_id="  c9  ")
    data = read_transactions(write_rows(tmp_path / "tx.csv", rows)).data
    assert data.select("channel", "currency", "country", "card_id").row(0) == (
        "pos",
        "EUR",
        "FR",
        "c9",
    )


def test_label_accepts_booleans_and_rejects_other_numbers(tmp_path: Path) -> None:
    """Check that is_fraud takes 0/1/true/false (any case) and rejects 0.5."""
    rows = simple_rows(4)
    for row, label in zip(rows, ["TRUE", "false", "1.0", "0.5"], strict=True):
        row["is_fraud"] = label
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.data["is_fraud"].to_list() == [1, 0, 1]
    assert result.rejected["reason"].to_list() == ["is_fraud: not 0/1"]


def test_empty_label_is_accepted_as_unknown(tmp_path: Path) -> None:
    """Check that an empty is_fraud is kept as null (label not known yet), not rejected."""
    rows = simple_rows(2)
    rows[1]["is_fraud"] = None
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.data["is_fraud"].to_list() == [0, None]


def test_accepted_frame_has_canonical_dtypes(tmp_path: Path) -> None:
    """Check that accepted rows come with the dtypes of schema/columns.py, in schema order."""
    from fraudwatch.schema import canonical_dtypes

    data = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(3))).data
    assert dict(data.schema) == canonical_dtypes()


def test_strict_raises_at_first_problem_with_row_and_id(tmp_path: Path) -> None:
    """Check that strict mode names the line and transaction of the first bad row."""
    rows = simple_rows(5)
    rows[2]["amount"] = -1.0
    rows[4]["amount"] = -2.0
    with pytest.raises(DataValidationError, match=r"row 4, transaction 't2': amount: negative"):
        read_transactions(write_rows(tmp_path / "tx.csv", rows), strict=True)


def test_strict_passes_clean_file(tmp_path: Path) -> None:
    """Check that strict mode reads a clean file completely."""
    result = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(4)), strict=True)
    assert result.data.height == 4


def test_missing_required_column_names_it_and_lists_found(tmp_path: Path) -> None:
    """Check that a missing required column stops at once, naming it and the columns found."""
    path = write_rows(
        tmp_path / "tx.csv", simple_rows(2), columns=["transaction_id", "timestamp", "amount"]
    )
    with pytest.raises(MissingColumnsError, match="card_id") as info:
        read_transactions(path)
    assert info.value.missing == ["card_id"]
    assert info.value.found == ["transaction_id", "timestamp", "amount"]


def test_only_present_optional_columns_are_returned(tmp_path: Path) -> None:
    """Check that optional canonical columns absent from the file are absent from the result."""
    cols = ["transaction_id", "timestamp", "card_id", "amount", "channel"]
    data = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(2), columns=cols)).data
    assert data.columns == cols


def test_passthrough_keeps_numeric_columns(tmp_path: Path) -> None:
    """Check that requested extra columns are kept as Float64 and non-numbers rejected."""
    body = (
        "transaction_id,timestamp,card_id,amount,score,note\n"
        "t1,2024-01-01T00:00:00Z,c,1,0.25,x\n"
        "t2,2024-01-01T00:00:00Z,c,1,high,y\n"
    )
    path = tmp_path / "tx.csv"
    path.write_text(body)
    result = read_transactions(path, passthrough=["score"])
    assert result.data["score"].to_list() == [0.25]
    assert result.data.schema["score"] == pl.Float64
    assert result.rejected["reason"].to_list() == ["score: not a number"]
    assert result.ignored_columns == ("note",)


def test_missing_passthrough_column_is_reported(tmp_path: Path) -> None:
    """Check that asking for a pass-through column the file lacks is a missing-column error."""
    path = write_rows(tmp_path / "tx.csv", simple_rows(1))
    with pytest.raises(MissingColumnsError, match=r"risk \(pass-through\)"):
        read_transactions(path, passthrough=["risk"])


def test_canonical_passthrough_is_a_config_error(tmp_path: Path) -> None:
    """Check that naming a canonical column as pass-through is refused."""
    from fraudwatch.errors import ConfigError

    path = write_rows(tmp_path / "tx.csv", simple_rows(1))
    with pytest.raises(ConfigError, match="'amount' is a canonical column"):
        read_transactions(path, passthrough=["amount"])


def test_batch_rows_must_be_positive(tmp_path: Path) -> None:
    """Check that a zero batch size is refused with the parameter named."""
    from fraudwatch.errors import ConfigError

    path = write_rows(tmp_path / "tx.csv", simple_rows(1))
    with pytest.raises(ConfigError, match="batch_rows"):
        read_transactions(path, batch_rows=0)


# -- timestamps ---------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(2150, 1, 1), timezones=st.just(UTC)
)


def _parse(values: list[Any], spec: TimestampSpec | None = None) -> list[Any]:
    series = pl.Series("t", values, dtype=pl.String)
    return parse_timestamp_series(series, spec or TimestampSpec()).to_list()


@settings(max_examples=60, deadline=None)
@given(moments, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_iso_forms_parse_to_the_same_instant(moment: datetime, offset_min: int) -> None:
    """Check that Z, numeric offsets, space separators and naive forms give one instant."""
    zone = timezone(timedelta(minutes=offset_min))
    local = moment.astimezone(zone)
    forms = [
        ts_text(moment),
        local.isoformat(),
        local.isoformat(sep=" "),
        local.strftime("%Y-%m-%dT%H:%M:%S.%f%z"),
        moment.replace(tzinfo=None).isoformat(),
        f"{(moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1) / 1e6:.6f}",
    ]
    assert _parse(forms) == [moment] * len(forms)


@settings(max_examples=40, deadline=None)
@given(moments)
def test_series_parser_matches_expression_parser(moment: datetime) -> None:
    """Check that the fast series parser agrees with the expression on mixed forms."""
    values = [ts_text(moment), moment.date().isoformat(), "garbage", None, "1.5e9"]
    series = pl.Series("t", values, dtype=pl.String)
    spec = TimestampSpec(timezone="America/New_York")
    expr = pl.DataFrame({"t": series}).select(parse_timestamp(pl.col("t"), pl.String(), spec))
    assert parse_timestamp_series(series, spec).to_list() == expr["t"].to_list()


def test_naive_text_is_taken_in_the_profile_zone() -> None:
    """Check that naive timestamps use the spec's time zone, UTC by default."""
    assert _parse(["2024-07-01T12:00:00"]) == [datetime(2024, 7, 1, 12, tzinfo=UTC)]
    paris = TimestampSpec(timezone="Europe/Paris")
    assert _parse(["2024-07-01T12:00:00"], paris) == [datetime(2024, 7, 1, 10, tzinfo=UTC)]


def test_custom_format_and_units() -> None:
    """Check that a strftime format, epoch milliseconds and an origin are honoured."""
    fmt = TimestampSpec(format="%d/%m/%Y %H:%M")
    assert _parse(["31/01/2024 23:59"], fmt) == [datetime(2024, 1, 31, 23, 59, tzinfo=UTC)]
    millis = TimestampSpec(unit="ms")
    assert _parse(["1704067200500"], millis) == [datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)]
    origin = TimestampSpec(origin=datetime(2013, 9, 1, tzinfo=UTC))
    assert _parse(["86400.5"], origin) == [datetime(2013, 9, 2, 0, 0, 0, 500000, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "h"}, "timestamp unit 'h'"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"origin": datetime(2013, 9, 1)}, "has no time zone"),
    ],
)
def test_bad_timestamp_spec_is_a_config_error(kwargs: dict[str, Any], message: str) -> None:
    """Check that invalid timestamp settings are refused with the value named."""
    from fraudwatch.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TimestampSpec(**kwargs)


def test_invalid_format_is_a_config_error() -> None:
    """Check that a format polars cannot use is refused when the profile is built."""
    from fraudwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="timestamp format '%Y-%m-%d %H' is not valid"):
        TimestampSpec(format="%Y-%m-%d %H").check_format()
