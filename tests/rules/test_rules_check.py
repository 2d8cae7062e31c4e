"""Load-time name and type checks of conditions: each user-facing error has a test."""

from __future__ import annotations

import pytest

from fraudwatch.errors import RuleError
from fraudwatch.rules import NamedList, parse_condition, resolve_field_types

FEATURES = ["card_tx_count_1h", "amount_sum_card_24h", "speed_kmh_card_last"]
LISTS = {
    "lists.high_risk_countries": NamedList(
        "lists.high_risk_countries", frozenset({"NG"}), "string"
    ),
    "lists.round_amounts": NamedList("lists.round_amounts", frozenset({100.0}), "number"),
}


def _fail(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_condition(text, known_fields=FEATURES, lists=LISTS, rule="r")
    return info.value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amout > 5", "unknown field 'amout' — did you mean 'amount'"),
        ("card_tx_count_1hh > 10", "did you mean 'card_tx_count_1h'"),
        ("zzz > 1", "unknown field 'zzz'"),
        ("channel > 5", r"cannot compare channel \(a string\) with 5 \(a number\); quote"),
        ('amount == "5"', "remove the quotes"),
        ("amount", "must be true or false.*amount > 0"),
        ("channel", "must be true or false"),
        ("amount == null", "write 'amount is null'"),
        ("amount != null", "write 'amount is not null'"),
        ("is_fraud == 1", "'is_fraud' is a label"),
        ("fraud_scenario == 'x'", "'fraud_scenario' is a label"),
        ("card_id in denylist.card", "did you mean 'denylist.cards'"),
        ("card_id in denylst.cards", "unknown list group 'denylst' — did you mean 'denylist'"),
        ("country in lists.high_risk", "not declared — did you mean 'high_risk_countries'"),
        ("amount in lists.high_risk_countries", "holds strings but amount"),
        ("amount in ['a']", "does not match amount"),
        ("amount > 5 and channel", "'and' needs true/false.*channel == "),
        ("not amount", "'not' needs true/false"),
        ("channel + 1 > 2", "'\\+' needs a number"),
        ("-channel > 1", "'-' needs a number"),
        ("timestamp > 5", "timestamp is a timestamp"),
        ("foo(amount) > 1", "unknown function 'foo'"),
        ("mx(amount, 1) > 1", "did you mean 'max'"),
        ("abs(amount, 2) > 1", "exactly one argument"),
        ("max(amount) > 1", "two or more arguments"),
        ("lower(amount) == 'a'", "lower\\(\\) needs a string"),
        ("coalesce(amount, channel) == 1", "same type"),
        ("coalesce(amount, null) > 1", "pointless"),
        ("abs > 1", "'abs' is a function"),
        ("denylist > 1", "list group"),
        ("(amount > 1) < (amount > 2)", "cannot order true/false"),
        ("card_id == denylist.cards", "only be used after 'in'"),
        ("null is null", "always true"),
    ],
)
def test_check_errors(text: str, message: str) -> None:
    """Check that a wrong name or type is reported with the rule, position and a hint."""
    with pytest.raises(RuleError, match=message) as info:
        parse_condition(text, known_fields=FEATURES, lists=LISTS, rule="r")
    assert info.value.rule == "r"
    assert info.value.position is not None


def test_error_position_points_at_the_unknown_field() -> None:
    """Check that the position of an unknown field is where the field starts."""
    err = _fail("amount > 25000 and amout < 3")
    assert err.position == 19


def test_unknown_names_allowed_without_known_fields() -> None:
    """Check that without known fields any name is accepted as a number."""
    cond = parse_condition("some_future_feature_7d > 3")
    assert cond.field_types == {"some_future_feature_7d": "number"}


def test_canonical_fields_keep_their_type_without_known_fields() -> None:
    """Check that canonical string fields stay strings when names are not validated."""
    with pytest.raises(RuleError, match="quote the number"):
        parse_condition("merchant_category == 5967")


def test_known_fields_mapping_gives_types() -> None:
    """Check that an explicit {name: type} mapping decides the type of a feature."""
    cond = parse_condition('segment == "gold"', known_fields={"segment": "string"})
    assert cond.evaluate({"segment": "gold"})


def test_resolve_field_types_adds_canonical_fields() -> None:
    """Check that a feature name list also accepts the canonical fields, minus labels."""
    types = resolve_field_types(["card_tx_count_1h"])
    assert types is not None
    assert types["card_tx_count_1h"] == "number"
    assert types["channel"] == "string"
    assert "is_fraud" not in types


def test_fields_lists_what_the_condition_reads() -> None:
    """Check that a condition reports every field it reads."""
    cond = parse_condition(
        "amount > 1 and (channel == 'ecom' or card_tx_count_1h > 3)", known_fields=FEATURES
    )
    assert cond.fields == {"amount", "channel", "card_tx_count_1h"}
