"""A parsed, checked condition with its two evaluators."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

from fraudwatch.rules._ast import Node, to_source
from fraudwatch.rules._check import check
from fraudwatch.rules._parser import parse
from fraudwatch.rules._to_polars import to_polars
from fraudwatch.rules._to_python import to_python
from fraudwatch.rules._types import LIST_KINDS, FieldType, NamedList, resolve_field_types

__all__ = ["Condition", "empty_builtin_lists", "parse_condition"]


def empty_builtin_lists() -> dict[str, NamedList]:
    """``denylist.<kind>`` and ``allowlist.<kind>`` for every kind, all empty."""
    return {
        f"{group}.{kind}": NamedList(f"{group}.{kind}", frozenset(), "string")
        for group in ("denylist", "allowlist")
        for kind in LIST_KINDS
    }


@dataclass(frozen=True, eq=False)
class Condition:
    """A condition that parsed and type-checked, ready to evaluate.

    Build it with :func:`parse_condition` (or through :func:`~fraudwatch.rules.load_rules`).

    Attributes
    ----------
    text:
        The condition as written.
    tree:
        Its syntax tree.
    field_types:
        Fields it reads, with their types.
    lists:
        Named lists it reads.
    """

    text: str
    tree: Node
    field_types: Mapping[str, FieldType]
    lists: Mapping[str, NamedList]
    _python: Callable[[Mapping[str, Any]], bool] = field(repr=False)

    @property
    def fields(self) -> frozenset[str]:
        """Names of the fields the condition reads."""
        return frozenset(self.field_types)

    @property
    def canonical(self) -> str:
        """The condition rewritten in canonical form (spacing, minimal parentheses)."""
        return to_source(self.tree)

    @cached_property
    def _polars(self) -> pl.Expr:
        return to_polars(self.tree, self.field_types, self.lists)

    def to_polars(self) -> pl.Expr:
        """The vectorised evaluator: a never-null Boolean polars expression (built once)."""
        return self._polars

    def evaluate(self, row: Mapping[str, Any]) -> bool:
        """Evaluate on one transaction (a mapping of field -> value; missing keys are null).

        >>> parse_condition("amount > 100 and channel == 'ecom'").evaluate(
        ...     {"amount": 120.0, "channel": "ecom"})
        True
        """
        return self._python(row)

    @property
    def evaluator(self) -> Callable[[Mapping[str, Any]], bool]:
        """The per-transaction evaluator as a plain function ``fn(row) -> bool``."""
        return self._python

    def evaluate_frame(self, frame: pl.DataFrame) -> pl.Series:
        """Evaluate on every row of ``frame``; returns a Boolean series without nulls."""
        out = frame.lazy().with_columns(self.to_polars().alias("__fw_condition"))
        return out.select("__fw_condition").collect().to_series().alias("condition")


def parse_condition(
    text: str,
    *,
    known_fields: Collection[str] | Mapping[str, FieldType] | None = None,
    lists: Mapping[str, NamedList] | None = None,
    rule: str | None = None,
) -> Condition:
    """Parse and check a condition.

    Parameters
    ----------
    text:
        E.g. ``'channel == "ecom" and card_tx_count_1h > 10'``.
    known_fields:
        Names (or ``{name: type}``) accepted besides the canonical transaction fields;
        ``None`` accepts any name (see :func:`~fraudwatch.rules.resolve_field_types`).
    lists:
        Lists the condition may use, by qualified name; the built-in allow and deny lists
        always exist (empty unless given).
    rule:
        Rule name used in error messages.

    Raises
    ------
    RuleError
        A syntax, name or type error, naming the rule and the position.

    Examples
    --------
    >>> c = parse_condition("amount > 25_000")
    >>> c.fields
    frozenset({'amount'})
    """
    tree = parse(text, rule)
    declared = empty_builtin_lists()
    if lists:
        declared.update(lists)
    result = check(tree, text, rule=rule, fields=resolve_field_types(known_fields), lists=declared)
    fn = to_python(tree, result.field_types, result.lists)
    return Condition(text, tree, result.field_types, result.lists, fn)
