"""Loading rule files: the example, lists, and every way a file can be wrong."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import InputFileError, RuleError
from fraudwatch.features import default_feature_set
from fraudwatch.rules import FieldType, RuleSet, load_rules

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"


def _known() -> dict[str, FieldType]:
    fs = default_feature_set()
    return {n: ("string" if n in fs.categorical else "number") for n in fs.names}


def _one_rule(condition: str = "amount > 1", **extra: object) -> str:
    rule = {"name": "r1", "condition": condition, "action": "review", **extra}
    return yaml.safe_dump({"rules": [rule]})


def test_example_file_loads_against_the_default_features() -> None:
    """Check that examples/rules.yaml is valid against the default feature set."""
    ruleset = load_rules(EXAMPLE, known_fields=_known())
    names = {r.name for r in ruleset.rules}
    assert {"card_testing", "impossible_travel", "large_amount"} <= names
    assert len(ruleset.lists["denylist.merchants"]) > 0
    assert any(not r.enabled for r in ruleset.rules)


def test_rules_keep_their_file_order_and_fields() -> None:
    """Check that every key of a rule is read as written."""
    text = """
version: 1
rules:
  - name: b_rule
    condition: amount > 10
    action: Decline
    priority: 7
    description: "  big  "
    enabled: false
  - name: a_rule
    condition: channel == "ecom"
    action: allow
"""
    rs = load_rules(text)
    first, second = rs.rules
    assert (first.name, first.action, first.priority, first.enabled) == (
        "b_rule",
        "decline",
        7,
        False,
    )
    assert first.description == "big"
    assert (second.name, second.priority, second.enabled) == ("a_rule", 0, True)
    assert first.line == 4


names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
rule_specs = st.lists(
    st.tuples(
        names, st.sampled_from(["allow", "review", "decline"]), st.integers(-99, 99), st.booleans()
    ),
    max_size=8,
    unique_by=lambda t: t[0],
)


@settings(max_examples=50, deadline=None)
@given(specs=rule_specs)
def test_yaml_round_trip(specs: list[tuple[str, str, int, bool]]) -> None:
    """Check that names, actions, priorities and flags written as YAML load back unchanged."""
    doc = {
        "version": 1,
        "rules": [
            {"name": n, "condition": "amount > 1", "action": a, "priority": p, "enabled": e}
            for n, a, p, e in specs
        ],
    }
    rs = load_rules(yaml.safe_dump(doc, sort_keys=False))
    assert [(r.name, r.action, r.priority, r.enabled) for r in rs.rules] == specs


@pytest.mark.parametrize(
    ("text", "rule", "message"),
    [
        (
            _one_rule("amout > 5"),
            "r1",
            r"unknown field 'amout' — did you mean 'amount'\? \(<rules>:3\)",
        ),
        (_one_rule(action="block"), "r1", "unknown action 'block' — did you mean 'decline'"),
        (_one_rule(action="revew"), "r1", "did you mean 'review'"),
        (_one_rule(priority="high"), "r1", "priority must be a whole number"),
        (_one_rule(priority=True), "r1", "priority must be a whole number"),
        (_one_rule(enabled="yes please"), "r1", "enabled must be true or false"),
        (_one_rule(conditon="x"), "r1", "unknown key 'conditon' — did you mean 'condition'"),
        (_one_rule(description=5), "r1", "description must be text"),
        ("rules:\n  - name: r1\n    action: review\n", "r1", "missing 'condition'"),
        ("rules:\n  - name: r1\n    condition: amount > 1\n", "r1", "missing 'action'"),
        (
            "rules:\n  - name: r1\n    condition: 5\n    action: review\n",
            "r1",
            "condition must be text",
        ),
        (_one_rule().replace("r1", "model"), "model", "reserved"),
        (
            "rules:\n- {name: r1, condition: amount > 1, action: review}\n"
            "- {name: r1, condition: amount > 2, action: review}\n",
            "r1",
            r"duplicate rule name \(first defined at line 2\)",
        ),
        (
            "rules:\n  - name: r1\n    condition: amount > 1\n    condition: amount > 2\n"
            "    action: review\n",
            "r1",
            "key 'condition' is given twice",
        ),
    ],
)
def test_bad_rule_is_named(text: str, rule: str, message: str) -> None:
    """Check that an invalid rule is rejected with the rule's name in the error."""
    with pytest.raises(RuleError, match=message) as info:
        load_rules(text, known_fields=_known())
    assert info.value.rule == rule
    assert f"rule '{rule}'" in str(info.value)


def test_bad_condition_names_rule_position_and_line(tmp_path: Path) -> None:
    """Check that a bad condition in a file names the rule, the position and file:line."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n"
        "  - name: ok\n"
        "    condition: amount > 1\n"
        "    action: review\n"
        "  - name: broken\n"
        "    condition: amount > 25000 and channel = 'ecom'\n"
        "    action: decline\n"
    )
    with pytest.raises(RuleError, match=rf"use '=='.*\({path}:6\)") as info:
        load_rules(path)
    assert info.value.rule == "broken"
    assert info.value.position == len("amount > 25000 and channel ")


def test_block_scalar_condition_line_is_its_first_line(tmp_path: Path) -> None:
    """Check that a folded multi-line condition is located at its first text line."""
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - name: x\n    condition: >\n      amout > 1\n    action: review\n")
    with pytest.raises(RuleError, match=rf"\({path}:4\)"):
        load_rules(path, known_fields=["x"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - [unclosed\n", "not valid YAML.*:3"),
        ("", "empty"),
        ("- a\n- b\n", "must be a mapping"),
        ("rulez: []\n", "unknown top-level key 'rulez' — did you mean 'rules'"),
        ("version: 2\nrules: []\n", "unsupported version 2"),
        ("rules: {a: 1}\n", "'rules' must be a list"),
        ("rules:\n  - just text\n", "rule #1 must be a mapping"),
        (
            "rules:\n  - condition: amount > 1\n    action: review\n",
            r"rule #1 has no 'name'.*\(<rules>:2\)",
        ),
        (
            "rules:\n  - name: 'bad name!'\n    condition: a > 1\n    action: review\n",
            "invalid name",
        ),
        ("rules:\n  - name: off\n    condition: a > 1\n    action: review\n", "quote the name"),
        ("denylist:\n  card: [a]\n", "unknown list 'denylist.card' — did you mean 'cards'"),
        ("denylist:\n  cards: [1234, 5678]\n", "not a string; quote"),
        ("denylist: [a, b]\n", "'denylist' must map list kinds"),
        ("denylist:\n  ips: ['10.0.0.0/8']\n", "CIDR"),
        ("denylist:\n  ips: ['not-an-ip']\n", "'not-an-ip' is not an IP address"),
        ("denylist:\n  cards: 5\n", "must be a list of values or the path"),
        ("lists:\n  mixed: [a, 1]\n", "mixes types"),
        ("lists:\n  'bad-name': [a]\n", "list name 'bad-name' is not valid"),
        ("lists: [a]\n", "'lists' must map list names"),
    ],
)
def test_bad_file_is_rejected(text: str, message: str) -> None:
    """Check that a malformed file is rejected with a message that says what to fix."""
    with pytest.raises(RuleError, match=message):
        load_rules(text)


def test_missing_rules_file_is_an_input_error(tmp_path: Path) -> None:
    """Check that a missing rules file raises InputFileError with the path."""
    with pytest.raises(InputFileError, match="does not exist"):
        load_rules(tmp_path / "nope.yaml")


def test_string_path_is_read_as_a_file(tmp_path: Path) -> None:
    """Check that a str naming a .yaml file is loaded as a path, not as YAML text."""
    path = tmp_path / "r.yaml"
    path.write_text(_one_rule())
    assert load_rules(str(path)).source == str(path)


def test_list_file_relative_to_rules_file(tmp_path: Path) -> None:
    """Check that a list path is read next to the rules file, skipping blanks and comments."""
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "bad.txt").write_text("# merchants to block\nm1\n\n  m2  \n")
    path = tmp_path / "r.yaml"
    path.write_text("denylist:\n  merchants: lists/bad.txt\n")
    rs = load_rules(path)
    assert rs.lists["denylist.merchants"].values == frozenset({"m1", "m2"})
    assert rs.lists["denylist.merchants"].source == "lists/bad.txt"


def test_missing_list_file_names_the_list(tmp_path: Path) -> None:
    """Check that a list file that does not exist is reported with the list's name."""
    path = tmp_path / "r.yaml"
    path.write_text("allowlist:\n  cards: cards.txt\n")
    with pytest.raises(RuleError, match=r"list 'allowlist\.cards': file 'cards\.txt' not found"):
        load_rules(path)


def test_numeric_named_list_compares_with_numbers() -> None:
    """Check that a list of numbers can be used with a number field."""
    rs = load_rules(
        "lists:\n  round: [100, 500.0, 1000]\n"
        "rules:\n  - {name: r, condition: amount in lists.round, action: review}\n"
    )
    assert rs.fired({"amount": 500}) == [rs.get("r")]
    assert rs.fired({"amount": 501}) == []


def test_condition_type_must_match_named_list() -> None:
    """Check that a string field tested against a list of numbers is an error naming the rule."""
    with pytest.raises(RuleError, match="holds numbers") as info:
        load_rules(
            "lists:\n  round: [100]\n"
            "rules:\n  - {name: r, condition: channel in lists.round, action: review}\n"
        )
    assert info.value.rule == "r"


def test_builtin_lists_become_checks() -> None:
    """Check that non-empty deny and allow lists become checks, empty ones do not."""
    rs = load_rules("denylist:\n  cards: [c1]\n  ips: []\nallowlist:\n  devices: [d1]\n")
    assert [c.name for c in rs.checks] == ["denylist.cards", "allowlist.devices"]
    assert rs.get("denylist.cards").action == "decline"
    assert rs.get("allowlist.devices").action == "allow"


def test_ruleset_can_be_built_in_code() -> None:
    """Check that RuleSet rejects duplicate names given directly."""
    rule = load_rules(_one_rule()).rules[0]
    with pytest.raises(RuleError, match="must be unique"):
        RuleSet([rule, rule])


def test_prepare_frame_missing_feature_names_rule() -> None:
    """Check that a feature absent from the data is an error naming the rule and field."""
    rs = load_rules(_one_rule("tx_count_card_1h > 3"))
    with pytest.raises(RuleError, match=r"field 'tx_count_card_1h'.*not in the data") as info:
        rs.prepare_frame(pl.DataFrame({"amount": [1.0]}))
    assert info.value.rule == "r1"


def test_prepare_frame_wrong_type_names_rule() -> None:
    """Check that a column of the wrong type is reported with the rule."""
    rs = load_rules(_one_rule("tx_count_card_1h > 3"))
    with pytest.raises(RuleError, match=r"is a string .* use it as a number"):
        rs.prepare_frame(pl.DataFrame({"tx_count_card_1h": ["3"]}))


def test_prepare_frame_adds_absent_optional_fields() -> None:
    """Check that an optional transaction field absent from the data counts as null."""
    rs = load_rules(_one_rule("device_id is null"))
    hits = rs.hit_frame(pl.DataFrame({"amount": [1.0, 2.0]}))
    assert hits["r1"].to_list() == [True, True]
