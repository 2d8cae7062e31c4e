"""Compile a checked condition into a polars expression (the vectorised evaluator).

Semantics, shared with :mod:`fraudwatch.rules._to_python` and proven equal by tests:

* numbers are 64-bit floats; NaN is treated as null; ``x / 0`` is null;
* arithmetic and functions with a null operand give null (``coalesce`` excepted);
* a comparison or ``in``/``not in`` with a null operand is false;
* a true/false field that is null counts as false where a condition is expected;
* ``and``/``or``/``not`` are ordinary two-valued logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from fraudwatch.rules._ast import (
    Binary,
    BoolOp,
    Call,
    Compare,
    CompareOp,
    IsNull,
    ListLiteral,
    ListRef,
    Literal,
    Member,
    Name,
    Neg,
    Node,
    Not,
    walk,
)
from fraudwatch.rules._to_python import to_python
from fraudwatch.rules._types import FieldType, NamedList

__all__ = ["to_polars"]

_POLARS_TYPES: Mapping[str, pl.DataType] = {
    "number": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
}


def _nan_to_null(expr: pl.Expr) -> pl.Expr:
    return expr.fill_nan(None)


class _Compiler:
    def __init__(self, field_types: Mapping[str, FieldType], lists: Mapping[str, NamedList]):
        self.field_types = field_types
        self.lists = lists

    def boolean(self, node: Node) -> pl.Expr:
        """A true/false expression that is never null."""
        expr = self.value(node)
        if isinstance(node, Name | Call):
            return expr.fill_null(False)
        return expr

    def value(self, node: Node) -> pl.Expr:
        if isinstance(node, Literal):
            v = node.value
            if v is None:
                return pl.lit(None)
            if isinstance(v, bool):
                return pl.lit(v, dtype=pl.Boolean)
            if isinstance(v, str):
                return pl.lit(v, dtype=pl.String)
            return pl.lit(float(v), dtype=pl.Float64)
        if isinstance(node, Name):
            kind = self.field_types[node.name]
            col = pl.col(node.name)
            if kind == "number":
                return _nan_to_null(col.cast(pl.Float64))
            if kind == "string":
                return col.cast(pl.String)
            return col.cast(pl.Boolean)
        if isinstance(node, Neg):
            return -self.value(node.operand)
        if isinstance(node, Not):
            return ~self.boolean(node.operand)
        if isinstance(node, BoolOp):
            left, right = self.boolean(node.left), self.boolean(node.right)
            return left & right if node.op == "and" else left | right
        if isinstance(node, Binary):
            left, right = self.value(node.left), self.value(node.right)
            if node.op == "+":
                return _nan_to_null(left + right)
            if node.op == "-":
                return _nan_to_null(left - right)
            if node.op == "*":
                return _nan_to_null(left * right)
            return _nan_to_null(pl.when(right == 0).then(None).otherwise(left / right))
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, IsNull):
            inner = self.value(node.operand)
            return inner.is_not_null() if node.negated else inner.is_null()
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"cannot evaluate {type(node).__name__} on its own")  # pragma: no cover

    def compare(self, node: Compare) -> pl.Expr:
        left_node, right_node, op = node.left, node.right, node.op
        if not _reads_fields(left_node) and _reads_fields(right_node):
            # polars 2.1 can return one row for `literal <op> f(all-null column)`; putting
            # the column side first avoids it and means the same.
            left_node, right_node, op = right_node, left_node, _MIRROR[op]
        left, right = self.value(left_node), self.value(right_node)
        if op == "==":
            out = left == right
        elif op == "!=":
            out = left != right
        elif op == "<":
            out = left < right
        elif op == "<=":
            out = left <= right
        elif op == ">":
            out = left > right
        else:
            out = left >= right
        return out.fill_null(False)

    def member(self, node: Member) -> pl.Expr:
        if not _reads_fields(node.operand):
            # A constant operand: polars' is_in would not broadcast it, so decide it here
            # with the per-transaction evaluator (same semantics).
            return pl.lit(to_python(node, self.field_types, self.lists)({}), dtype=pl.Boolean)
        operand = self.value(node.operand)
        target = node.target
        values: list[Any]
        if isinstance(target, ListRef):
            values = sorted(self.lists[target.qualified].values)
        else:
            assert isinstance(target, ListLiteral)
            values = [i.value for i in target.items]
        kind = _operand_type(node.operand, self.field_types)
        series = pl.Series(values, dtype=_POLARS_TYPES[kind])
        hit = operand.is_in(series.implode())
        return (~hit if node.negated else hit).fill_null(False)

    def call(self, node: Call) -> pl.Expr:
        args = [self.value(a) for a in node.args]
        func = node.func
        if func == "abs":
            return args[0].abs()
        if func in ("min", "max"):
            any_null = pl.any_horizontal([a.is_null() for a in args])
            pick = pl.min_horizontal(args) if func == "min" else pl.max_horizontal(args)
            return pl.when(any_null).then(None).otherwise(pick)
        if func == "lower":
            return args[0].str.to_lowercase()
        if func == "upper":
            return args[0].str.to_uppercase()
        return pl.coalesce(args)


_MIRROR: Mapping[CompareOp, CompareOp] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}


def _reads_fields(node: Node) -> bool:
    return any(isinstance(n, Name) for n in walk(node))


def _operand_type(node: Node, field_types: Mapping[str, FieldType]) -> str:
    """The (already checked) type of an expression, without re-checking it."""
    if isinstance(node, Literal):
        v = node.value
        if isinstance(v, bool):
            return "bool"
        return "string" if isinstance(v, str) else "number"
    if isinstance(node, Name):
        return field_types[node.name]
    if isinstance(node, Neg | Binary):
        return "number"
    if isinstance(node, Call):
        if node.func in ("lower", "upper"):
            return "string"
        if node.func == "coalesce":
            return _operand_type(node.args[0], field_types)
        return "number"
    return "bool"


def to_polars(
    node: Node, field_types: Mapping[str, FieldType], lists: Mapping[str, NamedList]
) -> pl.Expr:
    """Compile a checked true/false condition into a polars expression.

    The expression is never null: rows where the condition cannot be decided are false.

    Parameters
    ----------
    node:
        A condition that passed :func:`fraudwatch.rules._check.check`.
    field_types:
        The fields it uses and their types (from the check).
    lists:
        The lists it uses (from the check).
    """
    return _Compiler(field_types, lists).boolean(node)
