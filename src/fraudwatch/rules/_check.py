"""Name resolution and type checking of a parsed condition, done once at load time.

Every problem is reported as a :class:`~fraudwatch.errors.RuleError` naming the rule, the
field and the position, with a caret excerpt and a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NoReturn

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
from fraudwatch.rules._diagnostics import fail, suggest
from fraudwatch.rules._types import (
    LABEL_FIELDS,
    LIST_GROUPS,
    LIST_KINDS,
    FieldType,
    NamedList,
    canonical_field_types,
    describe_type,
)

__all__ = ["FUNCTIONS", "CheckResult", "check"]

_PLURAL: Final[Mapping[str, str]] = {
    "number": "numbers",
    "string": "strings",
    "bool": "true/false values",
    "datetime": "timestamps",
}

# "null" is the type of the literal null only.
_Type = str

FUNCTIONS: Final[Mapping[str, str]] = {
    "abs": "abs(x): absolute value of a number",
    "min": "min(a, b, ...): smallest of two or more numbers (null if any is null)",
    "max": "max(a, b, ...): largest of two or more numbers (null if any is null)",
    "lower": "lower(s): the string in lower case",
    "upper": "upper(s): the string in upper case",
    "coalesce": "coalesce(a, b, ...): the first argument that is not null",
}
"""The built-in functions and their one-line help."""


@dataclass(frozen=True)
class CheckResult:
    """What a valid condition refers to.

    Attributes
    ----------
    field_types:
        Every field used, with its type.
    lists:
        Every named list used (qualified name -> list).
    """

    field_types: Mapping[str, FieldType]
    lists: Mapping[str, NamedList]


class _Checker:
    def __init__(
        self,
        text: str,
        rule: str | None,
        fields: Mapping[str, FieldType] | None,
        lists: Mapping[str, NamedList],
    ) -> None:
        self.text = text
        self.rule = rule
        self.fields = fields
        self.canonical = canonical_field_types()
        self.lists = lists
        self.used_fields: dict[str, FieldType] = {}
        self.used_lists: dict[str, NamedList] = {}

    def fail(self, node: Node, message: str) -> NoReturn:
        fail(self.text, node.pos, node.end, message, self.rule)

    def src(self, node: Node) -> str:
        return self.text[node.pos : node.end]

    def what(self, node: Node, kind: _Type) -> str:
        return f"{self.src(node)} ({describe_type(kind)})"

    # -- leaves --------------------------------------------------------------------------
    def name(self, node: Name) -> FieldType:
        name = node.name
        if name in LABEL_FIELDS:
            self.fail(
                node,
                f"'{name}' is a label, unknown when a decision is made; "
                "rules cannot use it (use it only to evaluate rules with a backtest)",
            )
        if name in FUNCTIONS:
            self.fail(node, f"'{name}' is a function; call it, e.g. {FUNCTIONS[name]}")
        if name in LIST_GROUPS:
            self.fail(node, f"'{name}' is a list group; write e.g. card_id in {name}.<name>")
        if self.fields is None:
            kind = self.canonical.get(name, "number")
        elif name in self.fields:
            kind = self.fields[name]
        else:
            hint = suggest(name, self.fields)
            self.fail(
                node,
                f"unknown field '{name}'{hint}"
                + ("" if hint else " (not a transaction field or a known feature)"),
            )
        self.used_fields[name] = kind
        return kind

    def list_ref(self, node: ListRef) -> NamedList:
        if node.group not in LIST_GROUPS:
            self.fail(
                node,
                f"unknown list group '{node.group}'{suggest(node.group, LIST_GROUPS)}; "
                "use denylist.<kind>, allowlist.<kind> or lists.<name>",
            )
        if node.group in ("denylist", "allowlist") and node.name not in LIST_KINDS:
            options = [f"{node.group}.{kind}" for kind in LIST_KINDS]
            self.fail(
                node,
                f"unknown list '{node.qualified}'{suggest(node.qualified, options)}; "
                f"{node.group} has {', '.join(LIST_KINDS)}",
            )
        found = self.lists.get(node.qualified)
        if found is None:
            declared = sorted(k.split(".", 1)[1] for k in self.lists if k.startswith("lists."))
            hint = suggest(node.name, declared)
            self.fail(
                node,
                f"list '{node.qualified}' is not declared{hint}; "
                "declare it under 'lists:' in the rules file"
                + (f" (declared: {', '.join(declared)})" if declared else ""),
            )
        self.used_lists[node.qualified] = found
        return found

    # -- tree ----------------------------------------------------------------------------
    def expect(self, node: Node, want: _Type, role: str) -> None:
        got = self.type_of(node)
        if got != want:
            hint = ""
            if want == "bool" and got == "number":
                hint = f"; did you mean '{self.src(node)} > 0'?"
            elif want == "bool" and got == "string":
                hint = f"; did you mean '{self.src(node)} == \"...\"'?"
            self.fail(node, f"{role} needs {describe_type(want)}, got {self.what(node, got)}{hint}")

    def type_of(self, node: Node) -> _Type:
        if isinstance(node, Literal):
            v = node.value
            if v is None:
                return "null"
            if isinstance(v, bool):
                return "bool"
            return "string" if isinstance(v, str) else "number"
        if isinstance(node, Name):
            kind = self.name(node)
            return kind
        if isinstance(node, ListRef | ListLiteral):
            self.fail(node, "a list can only be used after 'in' or 'not in'")
        if isinstance(node, Neg):
            self.expect(node.operand, "number", "'-'")
            return "number"
        if isinstance(node, Not):
            self.expect(node.operand, "bool", "'not'")
            return "bool"
        if isinstance(node, Binary):
            self.expect(node.left, "number", f"'{node.op}'")
            self.expect(node.right, "number", f"'{node.op}'")
            return "number"
        if isinstance(node, BoolOp):
            self.expect(node.left, "bool", f"'{node.op}'")
            self.expect(node.right, "bool", f"'{node.op}'")
            return "bool"
        if isinstance(node, Compare):
            self.compare(node)
            return "bool"
        if isinstance(node, Member):
            self.member(node)
            return "bool"
        if isinstance(node, IsNull):
            if isinstance(node.operand, Literal) and node.operand.value is None:
                self.fail(node, "'null is null' is always true; test a field instead")
            self.type_of(node.operand)
            return "bool"
        return self.call(node)

    def no_datetime(self, node: Node, kind: _Type) -> None:
        if kind == "datetime":
            self.fail(
                node,
                f"{self.src(node)} is a timestamp; rules can only test it with 'is null' — "
                "use a time feature (e.g. seconds since the last transaction) instead",
            )

    def compare(self, node: Compare) -> None:
        for side in (node.left, node.right):
            if isinstance(side, Literal) and side.value is None:
                other = node.right if side is node.left else node.left
                word = "is not null" if node.op == "!=" else "is null"
                self.fail(
                    node,
                    f"a comparison with null is always false; write '{self.src(other)} {word}'",
                )
        left = self.type_of(node.left)
        right = self.type_of(node.right)
        self.no_datetime(node.left, left)
        self.no_datetime(node.right, right)
        if left != right:
            hint = ""
            lit = node.right if isinstance(node.right, Literal) else node.left
            if (
                isinstance(lit, Literal)
                and isinstance(lit.value, float)
                and "string"
                in (
                    left,
                    right,
                )
            ):
                hint = f'; quote the number: "{self.src(lit)}"'
            elif (
                isinstance(lit, Literal)
                and isinstance(lit.value, str)
                and "number"
                in (
                    left,
                    right,
                )
            ):
                hint = "; remove the quotes to compare numbers"
            self.fail(
                node,
                f"cannot compare {self.what(node.left, left)} with "
                f"{self.what(node.right, right)}{hint}",
            )
        if left == "bool" and node.op not in ("==", "!="):
            self.fail(node, f"'{node.op}' cannot order true/false values; use == or !=")

    def member(self, node: Member) -> None:
        kind = self.type_of(node.operand)
        self.no_datetime(node.operand, kind)
        if kind == "null":
            self.fail(node.operand, "null is never in a list; test a field instead")
        target = node.target
        if isinstance(target, ListLiteral):
            for item in target.items:
                item_kind = self.type_of(item)
                if item_kind != kind:
                    self.fail(
                        item,
                        f"list item {self.what(item, item_kind)} does not match "
                        f"{self.what(node.operand, kind)}; all items must be {describe_type(kind)}",
                    )
            return
        found = self.list_ref(target)
        if found.type is not None and found.type != kind:
            self.fail(
                node,
                f"list '{found.name}' holds {_PLURAL[found.type]} but "
                f"{self.what(node.operand, kind)} is tested against it",
            )

    def call(self, node: Call) -> _Type:
        func = node.func
        if func not in FUNCTIONS:
            self.fail(
                node,
                f"unknown function '{func}'{suggest(func, FUNCTIONS)}; "
                f"available: {', '.join(FUNCTIONS)}",
            )
        args = node.args
        if func in ("abs", "lower", "upper") and len(args) != 1:
            self.fail(node, f"{func}() takes exactly one argument: {FUNCTIONS[func]}")
        if func in ("min", "max", "coalesce") and len(args) < 2:
            self.fail(node, f"{func}() takes two or more arguments: {FUNCTIONS[func]}")
        if func in ("abs", "min", "max"):
            for arg in args:
                self.expect(arg, "number", f"{func}()")
            return "number"
        if func in ("lower", "upper"):
            self.expect(args[0], "string", f"{func}()")
            return "string"
        kinds = [self.type_of(a) for a in args]
        for arg, kind in zip(args, kinds, strict=True):
            if kind == "null":
                self.fail(arg, "a null argument to coalesce() is pointless; remove it")
            self.no_datetime(arg, kind)
            if kind != kinds[0]:
                self.fail(
                    arg,
                    f"coalesce() arguments must all have the same type: "
                    f"{self.what(args[0], kinds[0])} and {self.what(arg, kind)}",
                )
        return kinds[0]


def check(
    node: Node,
    text: str,
    *,
    rule: str | None = None,
    fields: Mapping[str, FieldType] | None = None,
    lists: Mapping[str, NamedList] | None = None,
) -> CheckResult:
    """Check names and types of a condition; it must be true/false.

    Parameters
    ----------
    node:
        The parsed condition.
    text:
        Its source text (for error excerpts).
    rule:
        The rule's name, for messages.
    fields:
        Known fields and their types; ``None`` accepts any name (canonical fields keep
        their type, other names are numbers).
    lists:
        Declared lists by qualified name (``denylist.cards``, ``lists.x``).

    Raises
    ------
    RuleError
        Unknown field, list or function; a type mismatch; a condition that is not
        true/false.
    """
    checker = _Checker(text, rule, fields, lists or {})
    kind = checker.type_of(node)
    if kind != "bool":
        hint = ""
        if kind == "number":
            hint = f"; did you mean '{checker.src(node)} > 0'?"
        fail(
            text,
            node.pos,
            node.end,
            f"a condition must be true or false, but this is {describe_type(kind)}{hint}",
            rule,
        )
    return CheckResult(dict(checker.used_fields), dict(checker.used_lists))
