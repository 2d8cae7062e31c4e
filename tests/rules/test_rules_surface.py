"""The public surface of fraudwatch.rules, and the examples in docs/rules.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fraudwatch.rules
from fraudwatch.features import default_feature_set
from fraudwatch.rules import FieldType, NamedList, parse_condition

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.rules exports exactly the documented names."""
    assert sorted(fraudwatch.rules.__all__) == sorted(
        [
            "ACTIONS",
            "BACKTEST_SCHEMA",
            "FUNCTIONS",
            "LIST_FIELDS",
            "LIST_KINDS",
            "TOTAL_ROW",
            "Action",
            "Condition",
            "Decision",
            "FieldType",
            "NamedList",
            "Node",
            "Rule",
            "RuleSet",
            "ThresholdsLike",
            "backtest_rules",
            "decide",
            "decide_frame",
            "decide_one",
            "load_rules",
            "model_decision",
            "parse",
            "parse_condition",
            "precedence_rank",
            "resolve_field_types",
            "to_source",
        ]
    )
    for name in fraudwatch.rules.__all__:
        assert hasattr(fraudwatch.rules, name)


def _doc_conditions() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```conditions\n(.*?)```", text, re.S)
    assert block is not None, "docs/rules.md lost its ```conditions block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.parametrize("condition", _doc_conditions())
def test_documented_examples_are_valid(condition: str) -> None:
    """Check that every example condition in docs/rules.md parses and type-checks."""
    fs = default_feature_set()
    known: dict[str, FieldType] = {
        n: ("string" if n in fs.categorical else "number") for n in fs.names
    }
    lists = {
        "lists.high_risk_countries": NamedList(
            "lists.high_risk_countries", frozenset({"NG"}), "string"
        )
    }
    parse_condition(condition, known_fields=known, lists=lists)
