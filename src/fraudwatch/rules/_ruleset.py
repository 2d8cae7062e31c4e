"""Rules, the built-in list checks, and the rule set that evaluates them.

Precedence (the order in which a decision is settled, first match wins; see
docs/rules.md): deny list, decline rules, allow list, allow rules, the model at its
decline threshold, review rules, the model. Within one level a higher ``priority`` wins,
then the rule written first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

import polars as pl

from fraudwatch.errors import RuleError
from fraudwatch.rules._condition import Condition, empty_builtin_lists, parse_condition
from fraudwatch.rules._types import (
    LIST_FIELDS,
    LIST_KINDS,
    Action,
    FieldType,
    NamedList,
    canonical_field_types,
    describe_type,
    field_type_of_dtype,
)
from fraudwatch.schema.columns import canonical_dtypes

__all__ = [
    "MODEL_DECLINE_RANK",
    "RESERVED_NAMES",
    "RULE_NAME_PATTERN",
    "Rule",
    "RuleSet",
    "RuleSource",
    "precedence_rank",
]

RuleSource: TypeAlias = Literal["rule", "denylist", "allowlist"]

RULE_NAME_PATTERN: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
"""Rule names: a letter, then letters, digits, ``_`` or ``-``; at most 64 characters."""

RESERVED_NAMES: Final = frozenset({"model", "default"})
"""Names used in ``decided_by`` for the model and the no-model default."""

MODEL_DECLINE_RANK: Final = 4
"""Rank of the model's decline in the precedence (between allow rules and review rules)."""

_RANKS: Final[Mapping[tuple[str, str], int]] = {
    ("denylist", "decline"): 0,
    ("rule", "decline"): 1,
    ("allowlist", "allow"): 2,
    ("rule", "allow"): 3,
    ("rule", "review"): 5,
}


def precedence_rank(source: str, action: str) -> int:
    """Rank of a rule in the decision precedence; lower ranks win.

    >>> precedence_rank("denylist", "decline") < precedence_rank("rule", "decline")
    True
    """
    return _RANKS[(source, action)]


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule (or built-in list check) of a rule set.

    Attributes
    ----------
    name:
        Unique name; built-in list checks are named ``denylist.<kind>``/``allowlist.<kind>``.
    condition:
        The parsed condition.
    action:
        ``allow``, ``review`` or ``decline``.
    priority:
        Orders rules of the same action: higher wins.
    description:
        Free text shown in reports.
    enabled:
        Disabled rules take no part in decisions but are still backtested.
    source:
        ``rule`` for a rule of the file, ``denylist``/``allowlist`` for a list check.
    line:
        Line of the rule in its file, when loaded from YAML.
    """

    name: str
    condition: Condition
    action: Action
    priority: int = 0
    description: str = ""
    enabled: bool = True
    source: RuleSource = "rule"
    line: int | None = None
    rank: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank", precedence_rank(self.source, self.action))

    def __repr__(self) -> str:
        state = "" if self.enabled else ", disabled"
        return (
            f"Rule({self.name!r}, {self.condition.text!r}, {self.action}, "
            f"priority={self.priority}{state})"
        )


def _list_check(group: Literal["denylist", "allowlist"], kind: str, named: NamedList) -> Rule:
    fieldname = LIST_FIELDS[kind]
    condition = parse_condition(
        f"{fieldname} in {group}.{kind}", lists={named.name: named}, rule=named.name
    )
    action: Action = "decline" if group == "denylist" else "allow"
    description = f"{fieldname} is in the {group[:-4]} list of {kind} ({len(named)} values)"
    return Rule(named.name, condition, action, 0, description, True, group)


class RuleSet:
    """An ordered, validated set of rules and lists.

    Parameters
    ----------
    rules:
        The rules, in file order. Names must be unique.
    lists:
        Every list by qualified name (``denylist.cards``, ``lists.high_risk_countries``);
        the non-empty built-in allow and deny lists become checks of their own.
    version:
        Version of the rules file format.
    source:
        Where the rules came from (a path), for messages.

    Raises
    ------
    RuleError
        Duplicate or reserved names.
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        lists: Mapping[str, NamedList] | None = None,
        *,
        version: int = 1,
        source: str | None = None,
    ) -> None:
        seen: dict[str, Rule] = {}
        for rule in rules:
            if rule.name in RESERVED_NAMES:
                raise RuleError(
                    f"'{rule.name}' is reserved for decisions made without a rule; rename it",
                    rule=rule.name,
                )
            if rule.name in seen:
                raise RuleError(
                    "two rules share this name; rule names must be unique", rule=rule.name
                )
            seen[rule.name] = rule
        all_lists = empty_builtin_lists()
        all_lists.update(lists or {})
        self.version = version
        self.source = source
        self.lists: Mapping[str, NamedList] = all_lists
        self.rules: tuple[Rule, ...] = tuple(rules)
        list_checks = [
            _list_check(group, kind, all_lists[f"{group}.{kind}"])
            for group in ("denylist", "allowlist")
            for kind in LIST_KINDS
            if len(all_lists[f"{group}.{kind}"]) > 0
        ]
        ordered = list_checks + list(self.rules)
        order = {id(r): i for i, r in enumerate(ordered)}
        self.checks: tuple[Rule, ...] = tuple(
            sorted(ordered, key=lambda r: (r.rank, -r.priority, order[id(r)]))
        )
        """Every check (list checks and rules, enabled or not) in precedence order."""
        self.active: tuple[Rule, ...] = tuple(r for r in self.checks if r.enabled)
        """The enabled checks in precedence order: what decisions use."""
        self._evaluators: tuple[tuple[Rule, Callable[[Mapping[str, Any]], bool]], ...] = tuple(
            (r, r.condition.evaluator) for r in self.active
        )

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __repr__(self) -> str:
        lists = sum(1 for v in self.lists.values() if len(v))
        where = f", source={self.source!r}" if self.source else ""
        return f"RuleSet({len(self.rules)} rules, {lists} non-empty lists{where})"

    def get(self, name: str) -> Rule:
        """The check called ``name`` (a rule or a list check such as ``denylist.cards``)."""
        for rule in self.checks:
            if rule.name == name:
                return rule
        raise KeyError(name)

    @property
    def fields(self) -> frozenset[str]:
        """Fields the enabled checks read: what a transaction must carry to be decided."""
        return frozenset(f for r in self.active for f in r.condition.fields)

    # -- per transaction ------------------------------------------------------------------
    def fired(self, row: Mapping[str, Any]) -> list[Rule]:
        """The enabled checks that fire on one transaction, in precedence order.

        Parameters
        ----------
        row:
            Transaction fields and features; a missing key counts as null.
        """
        return [rule for rule, fn in self._evaluators if fn(row)]

    # -- vectorised -----------------------------------------------------------------------
    def field_types(self, checks: Sequence[Rule]) -> dict[str, tuple[FieldType, list[str]]]:
        """``{field: (type, [rule names using it])}`` over ``checks``."""
        needed: dict[str, tuple[FieldType, list[str]]] = {}
        for rule in checks:
            for name, kind in rule.condition.field_types.items():
                needed.setdefault(name, (kind, []))[1].append(rule.name)
        return needed

    def prepare_frame(
        self, frame: pl.DataFrame | pl.LazyFrame, checks: Sequence[Rule] | None = None
    ) -> pl.LazyFrame:
        """Check that ``frame`` has what ``checks`` read, adding absent optional fields.

        A canonical transaction field absent from the frame (e.g. ``device_id`` for
        card-present data) is added as all-null, as in the per-transaction path where a
        missing key is null. Any other absent field (a feature) is an error.

        Raises
        ------
        RuleError
            A field is missing or has a type the rule cannot use; names the rule.
        """
        lazy = frame.lazy()
        schema = lazy.collect_schema()
        canonical = canonical_dtypes()
        canonical_types = canonical_field_types()
        additions: list[pl.Expr] = []
        for name, (kind, users) in self.field_types(checks or self.checks).items():
            dtype = schema.get(name)
            rules_txt = ", ".join(repr(u) for u in users)
            if dtype is None:
                if name in canonical_types:
                    additions.append(pl.lit(None, dtype=canonical[name]).alias(name))
                    continue
                raise RuleError(
                    f"field '{name}' (used by {rules_txt}) is not in the data; compute the "
                    "features first (fraudwatch.features.compute_batch) or fix the rule. "
                    f"Columns found: {', '.join(schema.names())}",
                    rule=users[0],
                )
            if isinstance(dtype, pl.Null):
                continue
            found = field_type_of_dtype(dtype)
            if found != kind:
                raise RuleError(
                    f"field '{name}' is {describe_type(found)} ({dtype}) in the data, but "
                    f"{rules_txt} use it as {describe_type(kind)}; fix the rule or the column",
                    rule=users[0],
                )
        return lazy.with_columns(additions) if additions else lazy

    def hit_frame(
        self, frame: pl.DataFrame | pl.LazyFrame, *, include_disabled: bool = False
    ) -> pl.DataFrame:
        """One Boolean column per check (named after it), in precedence order.

        With no check to evaluate the result has no columns.

        Parameters
        ----------
        frame:
            Transactions with the features the rules read.
        include_disabled:
            Also evaluate disabled rules (as a backtest does).
        """
        checks = self.checks if include_disabled else self.active
        lazy = self.prepare_frame(frame, checks)
        if not checks:
            return pl.DataFrame()
        hits = [r.condition.to_polars().alias(f"__fw_hit_{i}") for i, r in enumerate(checks)]
        names = {f"__fw_hit_{i}": r.name for i, r in enumerate(checks)}
        return lazy.with_columns(hits).select(list(names)).rename(names).collect()
