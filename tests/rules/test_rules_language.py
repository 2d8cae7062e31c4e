"""The tokenizer and parser: structure, positions, canonical text and syntax errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from rules_strategies import bool_exprs

from fraudwatch.errors import RuleError
from fraudwatch.rules import parse, to_source
from fraudwatch.rules._ast import BoolOp, Compare, IsNull, ListRef, Literal, Member, Name, Node, Not
from fraudwatch.rules._lexer import tokenize
from fraudwatch.rules._parser import MAX_DEPTH, MAX_NESTING


def test_and_binds_tighter_than_or() -> None:
    """Check that `a or b and c` parses as `a or (b and c)`."""
    tree = parse("x > 1 or y > 2 and z > 3")
    assert isinstance(tree, BoolOp)
    assert tree.op == "or"
    assert isinstance(tree.right, BoolOp)
    assert tree.right.op == "and"


def test_not_applies_to_one_comparison() -> None:
    """Check that `not a > 1 and b` negates only the comparison."""
    tree = parse("not a > 1 and b > 2")
    assert isinstance(tree, BoolOp)
    assert isinstance(tree.left, Not)
    assert isinstance(tree.left.operand, Compare)


def test_list_reference_after_in() -> None:
    """Check that `card_id in denylist.cards` names the list."""
    tree = parse("card_id not in denylist.cards")
    assert tree == Member(Name("card_id"), ListRef("denylist", "cards"), True)


def test_is_not_null() -> None:
    """Check that `is not null` parses as a negated null test."""
    assert parse("device_id is not null") == IsNull(Name("device_id"), True)


def test_numbers_with_underscores_and_exponents() -> None:
    """Check that 25_000, 2.5e4 and 25000.0 are the same number."""
    values = {t.value for text in ("25_000", "2.5e4", "25000.0") for t in tokenize(text)[:1]}
    assert values == {25000.0}


def test_single_and_double_quoted_strings() -> None:
    """Check that both quote styles and escapes give the same string."""
    assert parse("""c == 'it\\'s'""") == parse('c == "it\'s"')


def test_node_positions_point_into_the_text() -> None:
    """Check that every node's span covers the text it came from."""
    text = 'amount > 25000 and channel == "ecom"'
    tree = parse(text)
    assert isinstance(tree, BoolOp)
    right = tree.right
    assert isinstance(right, Compare)
    assert text[right.pos : right.end] == 'channel == "ecom"'
    assert isinstance(right.right, Literal)
    assert text[right.right.pos : right.right.end] == '"ecom"'


@settings(max_examples=200, deadline=None)
@given(tree=bool_exprs(3))
def test_canonical_text_is_a_fixed_point(tree: Node) -> None:
    """Check that parsing the canonical text and writing it again changes nothing."""
    once = parse(to_source(tree))
    assert parse(to_source(once)) == once
    assert to_source(once) == to_source(parse(to_source(once)))


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("amount = 5", 7, "use '=='"),
        ("a > 1 && b > 2", 6, "use 'and'"),
        ("a > 1 || b > 2", 6, "use 'or'"),
        ("!a", 0, "use 'not'"),
        ('channel == "ecom', 11, "not closed"),
        ("amount > 25k", 9, "invalid number '25k'"),
        ("amount > ", 9, "expected a value"),
        ("(amount > 5", 0, r"'\(' is never closed"),
        ("amount > 5)", 10, r"unmatched '\)'"),
        ("a < b < c", 6, "cannot be chained"),
        ("a > 1 AND b > 2", 6, "write 'and'"),
        ("card_id in cards", 11, "did you mean 'denylist.cards'"),
        ("x is 5", 5, "'null' after 'is'"),
        ("", 0, "empty"),
        ("a @ b", 2, "unexpected character '@'"),
        ('s == "\\q"', 6, "unknown escape"),
        ("[1, 2]", 0, "only follow 'in'"),
        ("x in [1, 2", 5, "never closed"),
        ("max(a, b > 1", 0, "never closed"),
        ("1.e5 > a", 1, "decimal point"),
    ],
)
def test_syntax_error_names_rule_and_position(text: str, position: int, message: str) -> None:
    """Check that a syntax error names the rule, the position and what to do."""
    with pytest.raises(RuleError, match=message) as info:
        parse(text, rule="r1")
    assert info.value.rule == "r1"
    assert info.value.position == position
    assert f"rule 'r1', position {position}" in str(info.value)


def test_error_shows_caret_under_the_problem() -> None:
    """Check that the message has the condition line with a caret under the bad token."""
    text = "amount > 5 and channel = 'ecom'"
    with pytest.raises(RuleError, match="use '=='") as info:
        parse(text)
    lines = str(info.value).splitlines()
    source_line = next(line for line in lines if "channel" in line)
    caret_line = lines[lines.index(source_line) + 1]
    assert source_line.index("=", source_line.index("channel")) == caret_line.index("^")


def test_multiline_condition_error_names_line_and_column() -> None:
    """Check that an error in a multi-line condition gives its line and column."""
    with pytest.raises(RuleError, match=r"line 2, column 7") as info:
        parse("amount > 5\nand x = 3", rule="r")
    assert info.value.position == 17


def test_deep_nesting_is_rejected() -> None:
    """Check that absurdly nested parentheses are an error, not a RecursionError."""
    text = "(" * (MAX_NESTING + 5) + "a > 1" + ")" * (MAX_NESTING + 5)
    with pytest.raises(RuleError, match="nested deeper"):
        parse(text)


def test_long_chains_are_rejected() -> None:
    """Check that a chain deeper than the limit is refused with a hint to split it."""
    text = " and ".join(f"a{i} > 1" for i in range(MAX_DEPTH + 1))
    with pytest.raises(RuleError, match="too complex"):
        parse(text)


def test_reasonable_chains_are_accepted() -> None:
    """Check that a long but sane `or` chain parses."""
    text = " or ".join(f"a{i} > {i}" for i in range(50))
    assert to_source(parse(text)) == text
