"""The vectorised (polars) and per-transaction (Python) evaluators agree, and follow the
documented semantics: nulls, NaN, division by zero, lists."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from rules_strategies import FIELD_TYPES, LISTS, bool_exprs, frame, rows

from fraudwatch.rules import parse_condition, to_source
from fraudwatch.rules._ast import Node
from fraudwatch.rules._parser import parse
from fraudwatch.rules._to_polars import to_polars
from fraudwatch.rules._to_python import to_python


def _both(text: str, data: list[dict[str, Any]]) -> tuple[list[bool], list[bool]]:
    cond = parse_condition(text, known_fields=FIELD_TYPES, lists=LISTS)
    vectorised = cond.evaluate_frame(frame(data)).to_list()
    per_row = [cond.evaluate(row) for row in data]
    return vectorised, per_row


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=bool_exprs(3), data=rows())
def test_evaluators_agree_on_random_conditions(tree: Node, data: list[dict[str, Any]]) -> None:
    """Check that polars and Python evaluators give the same answer on every random row."""
    note(f"condition: {to_source(tree)}")
    vectorised, per_row = _both(to_source(tree), data)
    assert vectorised == per_row


@settings(max_examples=150, deadline=None)
@given(tree=bool_exprs(3), data=rows(max_size=10))
def test_canonical_text_means_the_same(tree: Node, data: list[dict[str, Any]]) -> None:
    """Check that a generated tree and the parse of its canonical text decide alike."""
    note(f"condition: {to_source(tree)}")
    reparsed = parse(to_source(tree))
    direct = to_python(tree, FIELD_TYPES, LISTS)
    via_text = to_python(reparsed, FIELD_TYPES, LISTS)
    assert [direct(r) for r in data] == [via_text(r) for r in data]
    df = frame(data)
    a = df.with_columns(to_polars(tree, FIELD_TYPES, LISTS).alias("x"))["x"].to_list()
    b = df.with_columns(to_polars(reparsed, FIELD_TYPES, LISTS).alias("x"))["x"].to_list()
    assert a == b


@settings(max_examples=100, deadline=None)
@given(tree=bool_exprs(2), data=rows(max_size=10))
def test_results_are_never_null(tree: Node, data: list[dict[str, Any]]) -> None:
    """Check that both evaluators return strict booleans, never null."""
    vectorised, per_row = _both(to_source(tree), data)
    assert all(type(v) is bool for v in vectorised + per_row)


@given(value=st.one_of(st.none(), st.floats(allow_nan=True)))
def test_comparison_with_null_is_false_both_ways(value: float | None) -> None:
    """Check that a null (or NaN) operand makes both `x > 1` and `x <= 1` false."""
    missing = value is None or math.isnan(value)
    for text in ("n1 > 1", "n1 <= 1", "n1 == 1", "n1 != 1"):
        cond = parse_condition(text, known_fields=FIELD_TYPES)
        if missing:
            assert cond.evaluate({"n1": value}) is False


def test_not_of_a_null_comparison_is_true() -> None:
    """Check that `not (x > 1)` is true when x is null (two-valued logic, documented)."""
    cond = parse_condition("not (n1 > 1)", known_fields=FIELD_TYPES)
    assert cond.evaluate({"n1": None}) is True
    assert cond.evaluate_frame(frame([{"n1": None}])).to_list() == [True]


def test_not_in_with_null_is_false() -> None:
    """Check that a null value is neither `in` nor `not in` a list."""
    data: list[dict[str, Any]] = [{"s1": None}, {"s1": "zz"}, {"s1": "a"}]
    vectorised, per_row = _both('s1 not in ["a"]', data)
    assert vectorised == per_row == [False, True, False]


def test_missing_key_is_null() -> None:
    """Check that a field absent from the transaction mapping counts as null."""
    cond = parse_condition("n1 is null and not (s1 == 'x')", known_fields=FIELD_TYPES)
    assert cond.evaluate({}) is True


def test_division_by_zero_is_null() -> None:
    """Check that `x / 0` is null, so comparing it is false and `is null` is true."""
    data: list[dict[str, Any]] = [{"n1": 5.0, "n2": 0.0}, {"n1": 5.0, "n2": 2.0}]
    assert _both("n1 / n2 > 0", data) == ([False, True], [False, True])
    assert _both("n1 / n2 is null", data) == ([True, False], [True, False])


def test_nan_counts_as_null() -> None:
    """Check that a NaN value satisfies `is null` in both evaluators."""
    data: list[dict[str, Any]] = [{"n1": float("nan")}, {"n1": 1.0}]
    assert _both("n1 is null", data) == ([True, False], [True, False])


def test_infinity_minus_infinity_is_null() -> None:
    """Check that an arithmetic NaN (inf - inf) is null, not an always-true value."""
    data: list[dict[str, Any]] = [{"n1": math.inf, "n2": math.inf}]
    assert _both("n1 - n2 is null", data) == ([True], [True])
    assert _both("n1 - n2 != 0", data) == ([False], [False])


def test_integer_column_compares_as_number() -> None:
    """Check that an integer column and an int value in a mapping compare like floats."""
    data: list[dict[str, Any]] = [{"n3": 3}, {"n3": 11}, {"n3": None}]
    assert _both("n3 * 2 > 10.5", data) == ([False, True, False], [False, True, False])


def test_named_list_membership() -> None:
    """Check that `in lists.<name>` uses the declared values."""
    data: list[dict[str, Any]] = [{"s2": "ß"}, {"s2": "q"}]
    assert _both("s2 in lists.strs", data) == ([True, False], [True, False])


def test_coalesce_fills_a_null() -> None:
    """Check that coalesce() picks the first non-null argument."""
    data: list[dict[str, Any]] = [{"n1": None, "n2": 7.0}, {"n1": 1.0, "n2": 7.0}]
    assert _both("coalesce(n1, n2) == 7", data) == ([True, False], [True, False])


def test_min_with_a_null_is_null() -> None:
    """Check that min() of a null and a number is null (not the number)."""
    data: list[dict[str, Any]] = [{"n1": None, "n2": 7.0}]
    assert _both("min(n1, n2) is null", data) == ([True], [True])


def test_null_bool_field_is_false_as_condition() -> None:
    """Check that a null true/false field does not fire, and its negation does."""
    data: list[dict[str, Any]] = [{"b1": None}, {"b1": True}]
    assert _both("b1", data) == ([False, True], [False, True])
    assert _both("not b1", data) == ([True, False], [True, False])


def test_literal_condition_fills_every_row() -> None:
    """Check that a constant condition gives one value per row in the vectorised form."""
    assert _both("true", [{}, {}, {}]) == ([True] * 3, [True] * 3)


def test_categorical_column_is_a_string() -> None:
    """Check that a Categorical column can be compared with a string."""
    cond = parse_condition('s1 == "a"', known_fields=FIELD_TYPES)
    df = pl.DataFrame({"s1": ["a", "b", None]}, schema={"s1": pl.Categorical()})
    assert cond.evaluate_frame(df).to_list() == [True, False, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n1 + n2 * 2 == 7", True),  # * binds tighter than +
        ("(n1 + n2) * 2 == 7", False),
        ("n1 - n2 - 1 == -3", True),  # left-associative: (1 - 3) - 1
        ("not n1 > 5 and n2 == 3", True),  # not binds tighter than and
        ("n1 == 1 or n2 == 9 and n1 == 9", True),  # and binds tighter than or
        ("-n1 * 2 == -2", True),
        ("n2 / n1 / 3 == 1", True),
    ],
)
def test_operator_precedence(text: str, expected: bool) -> None:
    """Check that operators bind as documented, on n1=1 and n2=3."""
    cond = parse_condition(text, known_fields=FIELD_TYPES)
    assert cond.evaluate({"n1": 1.0, "n2": 3.0}) is expected


@pytest.mark.parametrize(
    "text",
    ['"" == coalesce(s1, "")', "1 < min(n1, n2)", "0 == n1 / n2", "true == b1", "2 >= abs(n1)"],
)
def test_all_null_columns_keep_one_value_per_row(text: str) -> None:
    """Check that a constant compared with an expression of all-null columns fills every row."""
    data: list[dict[str, Any]] = [{}, {}, {}]
    vectorised, per_row = _both(text, data)
    assert vectorised == per_row
    assert len(vectorised) == 3
