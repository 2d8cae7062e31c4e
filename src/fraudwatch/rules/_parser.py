"""Recursive-descent parser of the rule condition language (grammar in docs/rules.md).

Precedence, loosest first: ``or``; ``and``; ``not``; comparisons, ``in``/``not in`` and
``is [not] null`` (not chainable); ``+ -``; ``* /``; unary ``-``; literals, names, calls
and parentheses. Nothing is ever evaluated with Python's ``eval``.
"""

from __future__ import annotations

from typing import NoReturn

from fraudwatch.rules._ast import (
    COMPARISON_OPS,
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
    depth,
)
from fraudwatch.rules._diagnostics import fail
from fraudwatch.rules._lexer import KEYWORDS, Token, tokenize

__all__ = ["MAX_DEPTH", "MAX_NESTING", "parse"]

MAX_NESTING = 40
"""Deepest nesting of parentheses, calls and unary operators accepted."""

MAX_DEPTH = 200
"""Deepest syntax tree accepted (e.g. a chain of 200 'and'); deeper is rejected."""


class _Parser:
    def __init__(self, text: str, rule: str | None) -> None:
        self.text = text
        self.rule = rule
        self.tokens = tokenize(text, rule)
        self.i = 0
        self.depth = 0

    # -- helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def error(self, tok: Token, message: str) -> NoReturn:
        fail(self.text, tok.pos, max(tok.end, tok.pos + 1), message, self.rule)

    def describe(self, tok: Token) -> str:
        if tok.kind == "eof":
            return "the end of the condition"
        if tok.kind == "string":
            return f"string {self.text[tok.pos : tok.end]}"
        return f"'{tok.text}'"

    def unexpected(self, tok: Token, wanted: str) -> NoReturn:
        hint = ""
        if tok.kind == "name" and tok.text.lower() in KEYWORDS:
            hint = f" — keywords are lower case: write '{tok.text.lower()}'"
        self.error(tok, f"expected {wanted}, found {self.describe(tok)}{hint}")

    def expect_op(self, text: str, wanted: str) -> Token:
        if not self.at("op", text):
            self.unexpected(self.tok, wanted)
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(self.tok, f"condition nested deeper than {MAX_NESTING} levels; simplify it")

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.at("eof"):
            self.error(self.tok, "the condition is empty; write e.g. amount > 1000")
        node = self.or_expr()
        if not self.at("eof"):
            tok = self.tok
            if tok.kind == "op" and tok.text == ")":
                self.error(tok, "unmatched ')'; remove it or add a '(' before")
            self.unexpected(tok, "'and', 'or' or the end of the condition")
        return node

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.at("keyword", "or"):
            self.advance()
            right = self.and_expr()
            left = BoolOp("or", left, right, left.pos, right.end)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.at("keyword", "and"):
            self.advance()
            right = self.not_expr()
            left = BoolOp("and", left, right, left.pos, right.end)
        return left

    def not_expr(self) -> Node:
        if self.at("keyword", "not"):
            start = self.advance()
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, start.pos, operand.end)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        tok = self.tok
        node: Node
        if tok.kind == "op" and tok.text in COMPARISON_OPS:
            self.advance()
            right = self.additive()
            op: CompareOp = tok.text
            node = Compare(op, left, right, left.pos, right.end)
        elif tok.kind == "keyword" and tok.text == "in":
            self.advance()
            target = self.collection()
            node = Member(left, target, False, left.pos, target.end)
        elif tok.kind == "keyword" and tok.text == "not" and self.peek().text == "in":
            self.advance()
            self.advance()
            target = self.collection()
            node = Member(left, target, True, left.pos, target.end)
        elif tok.kind == "keyword" and tok.text == "is":
            self.advance()
            negated = False
            if self.at("keyword", "not"):
                self.advance()
                negated = True
            if not self.at("keyword", "null"):
                self.unexpected(self.tok, "'null' after 'is' ('x is null' or 'x is not null')")
            end = self.advance()
            node = IsNull(left, negated, left.pos, end.end)
        else:
            return left
        nxt = self.tok
        chained = nxt.kind == "op" and nxt.text in COMPARISON_OPS
        chained = chained or (nxt.kind == "keyword" and nxt.text in {"in", "is"})
        if chained:
            self.error(
                nxt,
                f"comparisons cannot be chained; combine them with 'and' "
                f"(e.g. 'a < b and b < c') or add parentheses, found {self.describe(nxt)}",
            )
        return node

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.advance().text
            right = self.multiplicative()
            left = Binary("+" if op == "+" else "-", left, right, left.pos, right.end)
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            op = self.advance().text
            right = self.unary()
            left = Binary("*" if op == "*" else "/", left, right, left.pos, right.end)
        return left

    def unary(self) -> Node:
        if self.at("op", "-"):
            start = self.advance()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Literal) and isinstance(operand.value, float):
                return Literal(-operand.value, start.pos, operand.end)
            return Neg(operand, start.pos, operand.end)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number" or tok.kind == "string":
            self.advance()
            return Literal(tok.value, tok.pos, tok.end)
        if tok.kind == "keyword" and tok.text in ("true", "false", "null"):
            self.advance()
            value = None if tok.text == "null" else tok.text == "true"
            return Literal(value, tok.pos, tok.end)
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            self.enter()
            inner = self.or_expr()
            self.depth -= 1
            if not self.at("op", ")"):
                if self.at("eof"):
                    self.error(tok, "'(' is never closed; add the matching ')'")
                self.unexpected(self.tok, "')'")
            self.advance()
            return inner
        if tok.kind == "name":
            self.advance()
            if self.at("op", "("):
                return self.call(tok)
            if self.at("op", "."):
                return self.list_ref(tok)
            return Name(tok.text, tok.pos, tok.end)
        if tok.kind == "op" and tok.text == "[":
            self.error(tok, "a list literal can only follow 'in' or 'not in'")
        self.unexpected(tok, "a value (number, string, field name or '(')")

    def call(self, name: Token) -> Node:
        self.advance()  # (
        self.enter()
        args: list[Node] = []
        if not self.at("op", ")"):
            args.append(self.or_expr())
            while self.at("op", ","):
                self.advance()
                args.append(self.or_expr())
        if not self.at("op", ")"):
            if self.at("eof"):
                self.error(name, f"call of {name.text}( is never closed; add the matching ')'")
            self.unexpected(self.tok, "',' or ')' in the argument list")
        end = self.advance()
        self.depth -= 1
        return Call(name.text, tuple(args), name.pos, end.end)

    def list_ref(self, group: Token) -> ListRef:
        self.advance()  # .
        tok = self.tok
        if tok.kind not in ("name", "keyword"):
            self.unexpected(tok, f"a list name after '{group.text}.'")
        self.advance()
        return ListRef(group.text, tok.text, group.pos, tok.end)

    def collection(self) -> ListLiteral | ListRef:
        tok = self.tok
        if tok.kind == "op" and tok.text == "[":
            return self.list_literal()
        if tok.kind == "name" and self.peek().kind == "op" and self.peek().text == ".":
            self.advance()
            return self.list_ref(tok)
        hint = ""
        if tok.kind == "name":
            hint = f" — did you mean 'denylist.{tok.text}' or 'lists.{tok.text}'?"
        self.error(
            tok,
            'expected a list after \'in\': ["a", "b"], denylist.<kind>, allowlist.<kind> '
            f"or lists.<name>, found {self.describe(tok)}{hint}",
        )

    def list_literal(self) -> ListLiteral:
        start = self.advance()  # [
        items: list[Literal] = []
        while not self.at("op", "]"):
            if items:
                if not self.at("op", ","):
                    if self.at("eof"):
                        self.error(start, "'[' is never closed; add the matching ']'")
                    self.unexpected(self.tok, "',' or ']' in the list")
                self.advance()
                if self.at("op", "]"):
                    break  # trailing comma
            items.append(self.list_item())
        end = self.advance()
        return ListLiteral(tuple(items), start.pos, end.end)

    def list_item(self) -> Literal:
        tok = self.tok
        sign = 1.0
        start = tok.pos
        if tok.kind == "op" and tok.text == "-":
            self.advance()
            sign = -1.0
            tok = self.tok
        if tok.kind == "number":
            self.advance()
            assert isinstance(tok.value, float)
            return Literal(sign * tok.value, start, tok.end)
        if sign == 1.0 and tok.kind == "string":
            self.advance()
            return Literal(tok.value, tok.pos, tok.end)
        if sign == 1.0 and tok.kind == "keyword" and tok.text in ("true", "false"):
            self.advance()
            return Literal(tok.text == "true", tok.pos, tok.end)
        if tok.kind == "eof":
            self.error(tok, "the list is never closed; add the matching ']'")
        self.unexpected(tok, "a number, string, true or false in the list")


def parse(text: str, rule: str | None = None) -> Node:
    """Parse a condition into a syntax tree (no name or type checks).

    Parameters
    ----------
    text:
        The condition, e.g. ``'channel == "ecom" and card_tx_count_1h > 10'``.
    rule:
        Name of the rule it belongs to, used in error messages.

    Raises
    ------
    RuleError
        A syntax error; names the rule and the 0-based position, with an excerpt.

    Examples
    --------
    >>> parse("amount > 25000")
    Compare(op='>', left=Name(name='amount', pos=0, end=6), right=Literal(value=25000.0, pos=9, end=14), pos=0, end=14)
    """  # noqa: E501
    node = _Parser(text, rule).parse()
    if depth(node) > MAX_DEPTH:
        fail(
            text,
            0,
            len(text),
            f"condition is too complex (more than {MAX_DEPTH} nested operations); "
            "split it into several rules or use a list with 'in'",
            rule,
        )
    return node
