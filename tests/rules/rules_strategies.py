"""Hypothesis strategies for the rules tests: random typed conditions and random rows."""

from __future__ import annotations

import functools
from typing import Any

import polars as pl
from hypothesis import strategies as st

from fraudwatch.rules import NamedList
from fraudwatch.rules._ast import (
    Binary,
    BoolOp,
    Call,
    Compare,
    IsNull,
    ListLiteral,
    ListRef,
    Literal,
    Member,
    Name,
    Neg,
    Node,
    Not,
)

NUMBER_FIELDS = ("n1", "n2", "n3")
STRING_FIELDS = ("s1", "s2")
BOOL_FIELDS = ("b1",)
FIELD_TYPES: dict[str, Any] = {
    **{f: "number" for f in NUMBER_FIELDS},
    **{f: "string" for f in STRING_FIELDS},
    **{f: "bool" for f in BOOL_FIELDS},
}
SCHEMA: dict[str, pl.DataType] = {
    "n1": pl.Float64(),
    "n2": pl.Float64(),
    "n3": pl.Int64(),
    "s1": pl.String(),
    "s2": pl.String(),
    "b1": pl.Boolean(),
}

ALPHABET = list("aAbBzß İΣσς0_")
SMALL_STRINGS = st.text(alphabet=ALPHABET, max_size=3)
NUMBER_VALUES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 10.0, 1e308, -1e308])
FLOATS = st.one_of(
    NUMBER_VALUES,
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)
NUM_LIST = frozenset({0.0, 1.0, 2.5, 10.0, -1.0})
STR_LIST = frozenset({"a", "A", "ß", "", "b"})
LISTS = {
    "lists.nums": NamedList("lists.nums", NUM_LIST, "number"),
    "lists.strs": NamedList("lists.strs", STR_LIST, "string"),
}


@functools.cache
def _num_leaf() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.sampled_from([Name(f) for f in NUMBER_FIELDS]),
        NUMBER_VALUES.map(lambda v: Literal(abs(v))),
        st.floats(min_value=0, max_value=1e6, allow_nan=False).map(Literal),
    )


@functools.cache
def _str_leaf() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.sampled_from([Name(f) for f in STRING_FIELDS]),
        SMALL_STRINGS.map(Literal),
    )


@functools.cache
def _bool_leaf() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.sampled_from([Name(f) for f in BOOL_FIELDS]),
        st.booleans().map(Literal),
    )


@functools.cache
def number_exprs(depth: int) -> st.SearchStrategy[Node]:
    """Random number-valued expressions."""
    if depth <= 0:
        return _num_leaf()
    sub = number_exprs(depth - 1)
    return st.one_of(
        _num_leaf(),
        sub.map(Neg),
        st.builds(Binary, st.sampled_from(["+", "-", "*", "/"]), sub, sub),
        sub.map(lambda a: Call("abs", (a,))),
        st.builds(
            lambda f, args: Call(f, tuple(args)),
            st.sampled_from(["min", "max", "coalesce"]),
            st.lists(sub, min_size=2, max_size=3),
        ),
    )


@functools.cache
def string_exprs(depth: int) -> st.SearchStrategy[Node]:
    """Random string-valued expressions."""
    if depth <= 0:
        return _str_leaf()
    sub = string_exprs(depth - 1)
    return st.one_of(
        _str_leaf(),
        st.builds(lambda f, a: Call(f, (a,)), st.sampled_from(["lower", "upper"]), sub),
        st.builds(lambda a, b: Call("coalesce", (a, b)), sub, sub),
    )


@functools.cache
def bool_exprs(depth: int) -> st.SearchStrategy[Node]:
    """Random true/false conditions mixing every construct of the language."""
    nums = number_exprs(min(depth, 2))
    strs = string_exprs(min(depth, 1))
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    atoms = st.one_of(
        _bool_leaf(),
        st.builds(Compare, ops, nums, nums),
        st.builds(Compare, ops, strs, strs),
        st.builds(Compare, st.sampled_from(["==", "!="]), _bool_leaf(), _bool_leaf()),
        st.builds(
            Member,
            nums,
            st.one_of(
                st.lists(NUMBER_VALUES.map(Literal), max_size=3).map(
                    lambda xs: ListLiteral(tuple(xs))
                ),
                st.just(ListRef("lists", "nums")),
            ),
            st.booleans(),
        ),
        st.builds(
            Member,
            strs,
            st.one_of(
                st.lists(SMALL_STRINGS.map(Literal), max_size=3).map(
                    lambda xs: ListLiteral(tuple(xs))
                ),
                st.just(ListRef("lists", "strs")),
            ),
            st.booleans(),
        ),
        st.builds(IsNull, st.one_of(nums, strs, _bool_leaf()), st.booleans()),
    )
    if depth <= 0:
        return atoms
    sub = bool_exprs(depth - 1)
    return st.one_of(
        atoms,
        sub.map(Not),
        st.builds(BoolOp, st.sampled_from(["and", "or"]), sub, sub),
        st.builds(lambda a, b: Call("coalesce", (a, b)), _bool_leaf(), sub),
    )


def rows(min_size: int = 1, max_size: int = 25) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Random rows over the fields above, nulls, NaN and infinities included."""
    row = st.fixed_dictionaries(
        {
            "n1": st.one_of(st.none(), FLOATS),
            "n2": st.one_of(st.none(), FLOATS),
            "n3": st.one_of(st.none(), st.integers(-20, 20)),
            "s1": st.one_of(st.none(), SMALL_STRINGS),
            "s2": st.one_of(st.none(), st.sampled_from(sorted(STR_LIST))),
            "b1": st.one_of(st.none(), st.booleans()),
        }
    )
    blank = st.sets(st.sampled_from(sorted(SCHEMA)))  # columns that are entirely null

    def blank_out(args: tuple[list[dict[str, Any]], set[str]]) -> list[dict[str, Any]]:
        data, fields = args
        return [{k: (None if k in fields else v) for k, v in r.items()} for r in data]

    return st.tuples(st.lists(row, min_size=min_size, max_size=max_size), blank).map(blank_out)


def frame(data: list[dict[str, Any]]) -> pl.DataFrame:
    """The rows as a polars frame with the test schema."""
    return pl.DataFrame(data, schema=SCHEMA)


CARDS = ("c1", "c2", "c3")
MERCHANTS = ("m1", "m2")
DECISION_FIELD_TYPES: dict[str, Any] = {**FIELD_TYPES, "card_id": "string", "merchant_id": "string"}
DECISION_SCHEMA: dict[str, pl.DataType] = {
    **SCHEMA,
    "card_id": pl.String(),
    "merchant_id": pl.String(),
    "score": pl.Float64(),
}


@st.composite
def rulesets(draw: st.DrawFn) -> Any:
    """Random rule sets: random conditions, actions, priorities, flags and lists."""
    from fraudwatch.rules import Rule, RuleSet, parse_condition, to_source

    def subset(pool: tuple[str, ...]) -> frozenset[str]:
        return frozenset(draw(st.lists(st.sampled_from(pool), max_size=2)))

    lists: dict[str, NamedList] = dict(LISTS)
    for group in ("denylist", "allowlist"):
        lists[f"{group}.cards"] = NamedList(f"{group}.cards", subset(CARDS), "string")
        lists[f"{group}.merchants"] = NamedList(f"{group}.merchants", subset(MERCHANTS), "string")
    rules = []
    for i in range(draw(st.integers(0, 6))):
        text = to_source(draw(bool_exprs(2)))
        cond = parse_condition(text, known_fields=DECISION_FIELD_TYPES, lists=lists)
        rules.append(
            Rule(
                f"rule_{i}",
                cond,
                draw(st.sampled_from(["allow", "review", "decline"])),
                draw(st.integers(0, 3)),
                enabled=draw(st.booleans()),
            )
        )
    return RuleSet(rules, lists)


def decision_rows(max_size: int = 20) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows with the test fields, a card, a merchant and a score (possibly null)."""
    extra = st.fixed_dictionaries(
        {
            "card_id": st.one_of(st.none(), st.sampled_from(CARDS)),
            "merchant_id": st.one_of(st.none(), st.sampled_from(MERCHANTS)),
            "score": st.one_of(st.none(), st.floats(0, 1)),
        }
    )
    return st.lists(
        st.tuples(rows(1, 1).map(lambda r: r[0]), extra).map(lambda t: {**t[0], **t[1]}),
        min_size=1,
        max_size=max_size,
    )
