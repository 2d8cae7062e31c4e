"""Backtests: the per-rule table matches a row-by-row count, and its edge cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_strategies import DECISION_SCHEMA, decision_rows, rulesets

from fraudwatch.errors import DataValidationError, MissingColumnsError
from fraudwatch.rules import BACKTEST_SCHEMA, TOTAL_ROW, RuleSet, backtest_rules, load_rules


@dataclass(frozen=True)
class T:
    """Thresholds stand-in."""

    review: float = 0.5
    decline: float = 0.9


RULES = """
rules:
  - {name: big, condition: amount > 100, action: review}
  - {name: huge, condition: amount > 1000, action: decline}
  - {name: tiny_ok, condition: amount < 2, action: allow}
  - {name: candidate, condition: amount > 50, action: review, enabled: false}
"""

DATA = pl.DataFrame(
    {
        "amount": [1.0, 60.0, 150.0, 200.0, 5000.0, 1.5],
        "is_fraud": [0, 1, 1, 0, 1, 1],
        "score": [0.1, 0.2, 0.7, 0.1, 0.95, 0.1],
    }
)


@pytest.fixture(scope="module")
def report() -> pl.DataFrame:
    """The backtest of RULES on DATA with thresholds."""
    return backtest_rules(load_rules(RULES), DATA, T())


def _row(df: pl.DataFrame, rule: str) -> dict[str, Any]:
    return df.filter(pl.col("rule") == rule).row(0, named=True)


def test_columns_follow_the_schema(report: pl.DataFrame) -> None:
    """Check that the table has the documented columns and types."""
    assert report.schema == pl.Schema(BACKTEST_SCHEMA)


def test_rows_in_precedence_order_then_total(report: pl.DataFrame) -> None:
    """Check that checks come in precedence order (disabled included), then the total."""
    assert report["rule"].to_list() == ["huge", "tiny_ok", "big", "candidate", TOTAL_ROW]


def test_hits_precision_recall_of_a_rule(report: pl.DataFrame) -> None:
    """Check the counts of `amount > 100` on six hand-made rows."""
    big = _row(report, "big")
    assert (big["hits"], big["frauds"], big["false_positives"]) == (3, 2, 1)
    assert big["precision"] == pytest.approx(2 / 3)
    assert big["recall"] == pytest.approx(2 / 4)
    assert big["fraud_amount"] == pytest.approx(5150.0)
    assert big["fraud_amount_share"] == pytest.approx(5150.0 / 5211.5)


def test_model_overlap_columns(report: pl.DataFrame) -> None:
    """Check overlap with the model's flags (score >= review) and what the model misses."""
    big = _row(report, "big")
    assert big["model_overlap"] == 2
    assert big["missed_by_model"] == 1
    assert big["frauds_missed_by_model"] == 0
    assert big["fraud_amount_missed_by_model"] == 0.0
    candidate = _row(report, "candidate")
    assert candidate["frauds_missed_by_model"] == 1
    assert candidate["fraud_amount_missed_by_model"] == pytest.approx(60.0)


def test_disabled_rule_is_measured_but_flagged(report: pl.DataFrame) -> None:
    """Check that a disabled rule has its numbers and enabled=false."""
    candidate = _row(report, "candidate")
    assert candidate["enabled"] is False
    assert candidate["hits"] == 4


def test_unique_hits_ignore_disabled_rules(report: pl.DataFrame) -> None:
    """Check that unique hits count hits no other enabled check has."""
    assert _row(report, "big")["unique_hits"] == 2  # 5000 is also hit by huge
    assert _row(report, "huge")["unique_hits"] == 0
    assert _row(report, "candidate")["unique_hits"] == 1  # 60.0 only


def test_total_is_the_union_of_review_and_decline_rules(report: pl.DataFrame) -> None:
    """Check that the total row counts enabled review/decline hits once, without allow rules."""
    total = _row(report, TOTAL_ROW)
    assert (total["hits"], total["frauds"]) == (3, 2)
    assert total["action"] is None
    assert total["unique_hits"] is None


def test_without_model_the_model_columns_are_null() -> None:
    """Check that without thresholds the overlap columns are null, the rest computed."""
    out = backtest_rules(load_rules(RULES), DATA.drop("score"))
    assert out["model_overlap"].null_count() == out.height
    assert out["hits"].null_count() == 0


def test_zero_hits_leave_precision_null() -> None:
    """Check that a rule that never fires has null precision rather than 0 or NaN."""
    rs = load_rules("rules: [{name: never, condition: amount > 1e9, action: review}]")
    out = backtest_rules(rs, DATA)
    assert _row(out, "never")["precision"] is None
    assert _row(out, "never")["recall"] == 0.0


@pytest.mark.parametrize(
    ("frame", "thresholds", "error", "message"),
    [
        (DATA.drop("is_fraud"), None, MissingColumnsError, "is_fraud"),
        (DATA.drop("score"), T(), MissingColumnsError, "score"),
        (
            DATA.with_columns(pl.lit(None, dtype=pl.Int8).alias("is_fraud")),
            None,
            DataValidationError,
            "no label",
        ),
        (DATA.with_columns(pl.lit(2).alias("is_fraud")), None, DataValidationError, "0 or 1"),
        (DATA.with_columns(pl.lit(float("nan")).alias("score")), T(), ValueError, "NaN"),
    ],
)
def test_bad_input_is_refused(
    frame: pl.DataFrame, thresholds: T | None, error: type[Exception], message: str
) -> None:
    """Check that unusable backtest data raises an error that says what to fix."""
    with pytest.raises(error, match=message):
        backtest_rules(load_rules(RULES), frame, thresholds)


def _reference(rs: RuleSet, data: list[dict[str, Any]], review: float) -> list[dict[str, Any]]:
    """Row-by-row counts with the per-transaction evaluator (the slow, obvious way)."""
    enabled = [c for c in rs.checks if c.enabled]
    out = []
    for check in rs.checks:
        hit = [check.condition.evaluate(r) for r in data]
        others = [sum(c.condition.evaluate(r) for c in enabled if c is not check) for r in data]
        flag = [r["score"] is not None and r["score"] >= review for r in data]
        fraud = [r["is_fraud"] == 1 for r in data]
        out.append(
            {
                "rule": check.name,
                "hits": sum(hit),
                "frauds": sum(h and f for h, f in zip(hit, fraud, strict=True)),
                "unique_hits": sum(h and o == 0 for h, o in zip(hit, others, strict=True)),
                "model_overlap": sum(h and g for h, g in zip(hit, flag, strict=True)),
                "frauds_missed_by_model": sum(
                    h and f and not g for h, f, g in zip(hit, fraud, flag, strict=True)
                ),
                "fraud_amount": sum(
                    r["amount"] for r, h, f in zip(data, hit, fraud, strict=True) if h and f
                ),
            }
        )
    return out


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    rs=rulesets(),
    data=decision_rows(max_size=30),
    labels=st.lists(st.booleans(), min_size=30, max_size=30),
    amounts=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=30, max_size=30),
    review=st.floats(0, 1),
)
def test_backtest_matches_a_row_by_row_count(
    rs: RuleSet,
    data: list[dict[str, Any]],
    labels: list[bool],
    amounts: list[float],
    review: float,
) -> None:
    """Check that the vectorised table equals counting rule by rule, row by row."""
    rows = [
        {**r, "is_fraud": int(f), "amount": a}
        for r, f, a in zip(data, labels, amounts, strict=False)
    ]
    schema = {**DECISION_SCHEMA, "is_fraud": pl.Int8(), "amount": pl.Float64()}
    frame = pl.DataFrame(rows, schema=schema)
    table = backtest_rules(rs, frame, T(review, review))
    expected = _reference(rs, rows, review)
    got = table.filter(pl.col("rule") != TOTAL_ROW).select(list(expected[0]) if expected else [])
    assert len(got) == len(expected)
    for want, have in zip(expected, got.iter_rows(named=True), strict=True):
        assert have == pytest.approx(want)
    flagging = [c for c in rs.checks if c.enabled and c.action != "allow"]
    union = [any(c.condition.evaluate(r) for c in flagging) for r in rows]
    total = table.filter(pl.col("rule") == TOTAL_ROW).row(0, named=True)
    assert total["hits"] == sum(union)
    assert total["frauds"] == sum(
        u and r["is_fraud"] == 1 for u, r in zip(union, rows, strict=True)
    )
