"""Syntax tree of a rule condition, and its canonical text form.

Nodes are immutable; ``pos``/``end`` locate a node in the source text and are left out
of equality, so two trees are equal when they mean the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as Lit
from typing import TypeAlias

__all__ = [
    "ARITHMETIC_OPS",
    "COMPARISON_OPS",
    "Binary",
    "BoolOp",
    "Call",
    "Compare",
    "IsNull",
    "ListLiteral",
    "ListRef",
    "Literal",
    "Member",
    "Name",
    "Neg",
    "Node",
    "Not",
    "children",
    "depth",
    "to_source",
    "walk",
]

ArithOp: TypeAlias = Lit["+", "-", "*", "/"]
CompareOp: TypeAlias = Lit["==", "!=", "<", "<=", ">", ">="]
ARITHMETIC_OPS: tuple[ArithOp, ...] = ("+", "-", "*", "/")
COMPARISON_OPS: tuple[CompareOp, ...] = ("==", "!=", "<", "<=", ">", ">=")

Scalar: TypeAlias = float | str | bool | None


@dataclass(frozen=True, slots=True)
class Literal:
    """A number (always a float), a string, ``true``/``false`` or ``null``."""

    value: Scalar
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Name:
    """A transaction field or feature, e.g. ``amount`` or ``card_tx_count_1h``."""

    name: str
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListRef:
    """A named list: ``denylist.cards``, ``allowlist.ips``, ``lists.high_risk_countries``."""

    group: str
    name: str
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)

    @property
    def qualified(self) -> str:
        """``group.name``."""
        return f"{self.group}.{self.name}"


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``["a", "b"]``: literals only."""

    items: tuple[Literal, ...]
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """Boolean negation."""

    operand: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic: ``+ - * /``."""

    op: ArithOp
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison ``== != < <= > >=``."""

    op: CompareOp
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or``."""

    op: Lit["and", "or"]
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Member:
    """``x in [..]`` / ``x not in list.ref``."""

    operand: Node
    target: ListLiteral | ListRef
    negated: bool
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class IsNull:
    """``x is null`` / ``x is not null``."""

    operand: Node
    negated: bool
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A call of one of the built-in functions (``abs``, ``min``, ``max``, ...)."""

    func: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


Node: TypeAlias = (
    Literal
    | Name
    | ListRef
    | ListLiteral
    | Neg
    | Not
    | Binary
    | Compare
    | BoolOp
    | Member
    | IsNull
    | Call
)

# Binding power of each node kind in the canonical text; higher binds tighter.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(8)


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


def _literal(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    return _number(value)


def _power(node: Node) -> int:
    if isinstance(node, BoolOp):
        return _OR if node.op == "or" else _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Compare | Member | IsNull):
        return _CMP
    if isinstance(node, Binary):
        return _ADD if node.op in "+-" else _MUL
    if isinstance(node, Neg):
        return _NEG
    if isinstance(node, Literal) and isinstance(node.value, float) and node.value < 0:
        return _NEG
    return _ATOM


def _wrap(node: Node, minimum: int) -> str:
    text = to_source(node)
    return f"({text})" if _power(node) < minimum else text


def to_source(node: Node) -> str:
    """Write a tree back as canonical condition text, with only the needed parentheses.

    Parsing the result gives back an equal tree.

    Examples
    --------
    >>> to_source(BoolOp("and", Compare(">", Name("amount"), Literal(25000.0)),
    ...                  Member(Name("card_id"), ListRef("denylist", "cards"), False)))
    'amount > 25000 and card_id in denylist.cards'
    """
    if isinstance(node, Literal):
        return _literal(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, ListRef):
        return node.qualified
    if isinstance(node, ListLiteral):
        return "[" + ", ".join(_literal(i.value) for i in node.items) + "]"
    if isinstance(node, Neg):
        return "-" + _wrap(node.operand, _NEG)
    if isinstance(node, Not):
        return "not " + _wrap(node.operand, _NOT)
    if isinstance(node, Binary):
        own = _power(node)
        # Left-associative: the right operand needs parentheses at equal power.
        return f"{_wrap(node.left, own)} {node.op} {_wrap(node.right, own + 1)}"
    if isinstance(node, Compare):
        return f"{_wrap(node.left, _ADD)} {node.op} {_wrap(node.right, _ADD)}"
    if isinstance(node, BoolOp):
        own = _power(node)
        return f"{_wrap(node.left, own)} {node.op} {_wrap(node.right, own + 1)}"
    if isinstance(node, Member):
        word = "not in" if node.negated else "in"
        return f"{_wrap(node.operand, _ADD)} {word} {to_source(node.target)}"
    if isinstance(node, IsNull):
        word = "is not null" if node.negated else "is null"
        return f"{_wrap(node.operand, _ADD)} {word}"
    args = ", ".join(to_source(a) for a in node.args)
    return f"{node.func}({args})"


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-trees of ``node`` (list literals count as leaves)."""
    if isinstance(node, Neg | Not | IsNull):
        return (node.operand,)
    if isinstance(node, Binary | Compare | BoolOp):
        return (node.left, node.right)
    if isinstance(node, Member):
        return (node.operand, node.target)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(root: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def depth(root: Node) -> int:
    """Depth of the tree (a single leaf has depth 1), computed without recursion."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest
