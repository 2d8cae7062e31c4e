"""Compile a checked condition into a Python closure over one transaction (a mapping).

This is the real-time evaluator: no parsing, no dictionaries built per call, a handful of
function calls per node, and fused fast paths for the common shapes ``field <op> literal``
and ``field in list``. Semantics are those of :mod:`fraudwatch.rules._to_polars`; a
missing key counts as null.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

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
from fraudwatch.rules._types import FieldType, NamedList

__all__ = ["Evaluator", "to_python"]

Row: TypeAlias = Mapping[str, Any]
Evaluator: TypeAlias = Callable[[Row], Any]

_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _number_getter(name: str) -> Evaluator:
    def get(row: Row) -> float | None:
        v = row.get(name)
        if v is None:
            return None
        if type(v) is not float:
            v = float(v)
        return None if v != v else v

    return get


def _constant(value: Any) -> Evaluator:
    def const(row: Row) -> Any:
        return value

    return const


class _Compiler:
    def __init__(self, field_types: Mapping[str, FieldType], lists: Mapping[str, NamedList]):
        self.field_types = field_types
        self.lists = lists

    def boolean(self, node: Node) -> Evaluator:
        """An evaluator returning ``True`` or ``False`` (never ``None``)."""
        fn = self.value(node)
        if isinstance(node, Name | Call):

            def truthy(row: Row) -> bool:
                return fn(row) is True

            return truthy
        return fn

    def value(self, node: Node) -> Evaluator:
        if isinstance(node, Literal):
            return _constant(node.value)
        if isinstance(node, Name):
            name = node.name
            if self.field_types[name] == "number":
                return _number_getter(name)
            if self.field_types[name] == "bool":

                def get_bool(row: Row) -> bool | None:
                    v = row.get(name)
                    return None if v is None else bool(v)

                return get_bool

            def get(row: Row) -> Any:
                return row.get(name)

            return get
        if isinstance(node, Neg):
            inner = self.value(node.operand)

            def neg(row: Row) -> float | None:
                v = inner(row)
                return None if v is None else -v

            return neg
        if isinstance(node, Not):
            operand = self.boolean(node.operand)

            def not_(row: Row) -> bool:
                return not operand(row)

            return not_
        if isinstance(node, BoolOp):
            return self.bool_op(node)
        if isinstance(node, Binary):
            return self.arithmetic(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, IsNull):
            operand_fn = self.value(node.operand)
            if node.negated:
                return lambda row: operand_fn(row) is not None
            return lambda row: operand_fn(row) is None
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"cannot evaluate {type(node).__name__} on its own")  # pragma: no cover

    def bool_op(self, node: BoolOp) -> Evaluator:
        left, right = self.boolean(node.left), self.boolean(node.right)
        if node.op == "and":

            def and_(row: Row) -> bool:
                return left(row) and right(row)  # type: ignore[no-any-return]

            return and_

        def or_(row: Row) -> bool:
            return left(row) or right(row)  # type: ignore[no-any-return]

        return or_

    def arithmetic(self, node: Binary) -> Evaluator:
        left, right = self.value(node.left), self.value(node.right)
        op = node.op
        if op == "/":

            def div(row: Row) -> float | None:
                a = left(row)
                if a is None:
                    return None
                b = right(row)
                if b is None or b == 0:
                    return None
                r: float = a / b
                return None if r != r else r

            return div
        fn = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

        def arith(row: Row) -> float | None:
            a = left(row)
            if a is None:
                return None
            b = right(row)
            if b is None:
                return None
            r: float = fn(a, b)
            return None if r != r else r

        return arith

    def compare(self, node: Compare) -> Evaluator:
        op = _COMPARE[node.op]
        left_node, right_node = node.left, node.right
        # Fast path: field <op> literal (the most common rule shape).
        if isinstance(left_node, Name) and isinstance(right_node, Literal):
            name, const = left_node.name, right_node.value
            kind = self.field_types[name]
            if kind == "number":

                def cmp_number(row: Row) -> bool:
                    v = row.get(name)
                    if v is None:
                        return False
                    if type(v) is not float:
                        v = float(v)
                    return v == v and op(v, const)

                return cmp_number
            if kind == "string":

                def cmp_string(row: Row) -> bool:
                    v = row.get(name)
                    return v is not None and op(v, const)

                return cmp_string
        left, right = self.value(left_node), self.value(right_node)

        def cmp(row: Row) -> bool:
            a = left(row)
            if a is None:
                return False
            b = right(row)
            if b is None:
                return False
            return op(a, b)

        return cmp

    def member(self, node: Member) -> Evaluator:
        target = node.target
        values: frozenset[Any]
        if isinstance(target, ListRef):
            values = self.lists[target.qualified].values
        else:
            assert isinstance(target, ListLiteral)
            values = frozenset(i.value for i in target.items)
        operand = node.operand
        negated = node.negated
        if isinstance(operand, Name) and self.field_types[operand.name] == "string":
            name = operand.name
            if negated:
                return lambda row: (v := row.get(name)) is not None and v not in values
            return lambda row: (v := row.get(name)) is not None and v in values
        fn = self.value(operand)
        if negated:
            return lambda row: (v := fn(row)) is not None and v not in values
        return lambda row: (v := fn(row)) is not None and v in values

    def call(self, node: Call) -> Evaluator:
        args = [self.value(a) for a in node.args]
        func = node.func
        if func in ("abs", "lower", "upper"):
            arg = args[0]
            if func == "abs":
                return lambda row: None if (v := arg(row)) is None else abs(v)
            if func == "lower":
                return lambda row: None if (v := arg(row)) is None else v.lower()
            return lambda row: None if (v := arg(row)) is None else v.upper()
        if func in ("min", "max"):
            pick: Callable[..., Any] = min if func == "min" else max

            def extreme(row: Row) -> float | None:
                vals = [a(row) for a in args]
                if None in vals:
                    return None
                return pick(vals)  # type: ignore[no-any-return]

            return extreme

        def coalesce(row: Row) -> Any:
            for a in args:
                v = a(row)
                if v is not None:
                    return v
            return None

        return coalesce


def to_python(
    node: Node, field_types: Mapping[str, FieldType], lists: Mapping[str, NamedList]
) -> Callable[[Row], bool]:
    """Compile a checked true/false condition into ``fn(row) -> bool``.

    Parameters
    ----------
    node:
        A condition that passed :func:`fraudwatch.rules._check.check`.
    field_types:
        The fields it uses and their types.
    lists:
        The lists it uses.

    Examples
    --------
    >>> from fraudwatch.rules._parser import parse
    >>> fn = to_python(parse("amount > 100"), {"amount": "number"}, {})
    >>> fn({"amount": 250.0}), fn({"amount": None}), fn({})
    (True, False, False)
    """
    return _Compiler(field_types, lists).boolean(node)
