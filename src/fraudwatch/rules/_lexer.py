"""Tokenizer of the rule condition language.

The tokenizer is hand-written and never evaluates the text: it turns a condition such as
``channel == "ecom" and card_tx_count_1h > 10`` into a list of :class:`Token` with their
zero-based character offsets, so that every later error can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from fraudwatch.rules._diagnostics import fail

__all__ = ["KEYWORDS", "Token", "TokenKind", "tokenize"]

TokenKind = Literal["number", "string", "name", "keyword", "op", "eof"]

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})

# Longest first, so that "<=" wins over "<".
_OPERATORS: Final = (
    *("==", "!=", "<=", ">=", "<", ">"),
    *("+", "-", "*", "/", "(", ")", "[", "]", ",", "."),
)

# Operators from other languages, mapped to the fix we suggest.
_FOREIGN: Final = {
    "&&": "use 'and' to combine conditions",
    "||": "use 'or' to combine conditions",
    "&": "use 'and' to combine conditions",
    "|": "use 'or' to combine conditions",
    "!": "use 'not' to negate a condition, or '!=' for 'is different from'",
    "=": "use '==' to compare",
    "<>": "use '!=' for 'is different from'",
    "%": "the language has + - * / only",
    "**": "the language has + - * / only",
}

_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a condition.

    Attributes
    ----------
    kind:
        ``number``, ``string``, ``name``, ``keyword``, ``op`` or ``eof``.
    text:
        The token as written (for strings: the decoded value; for keywords: lower case).
    pos:
        Zero-based offset of the first character.
    end:
        Offset just past the last character.
    value:
        The decoded value of a ``number`` (a float) or ``string`` token, else ``None``.
    """

    kind: TokenKind
    text: str
    pos: int
    end: int
    value: float | str | None = None


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _scan_number(text: str, start: int, rule: str | None) -> Token:
    """Scan ``digits[_digits][.digits][e[+-]digits]`` starting at ``start``."""
    n = len(text)
    i = start

    def digits(i: int) -> int:
        j = i
        while j < n and (text[j].isdigit() and text[j].isascii()):
            j += 1
            if j < n - 1 and text[j] == "_" and text[j + 1].isdigit():
                j += 1
        return j

    i = digits(i)
    if i < n and text[i] == ".":
        if i + 1 < n and text[i + 1].isdigit():
            i = digits(i + 1)
        else:
            fail(text, i, i + 1, "a decimal point must be followed by digits (write 1.0)", rule)
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            i = digits(j)
        else:
            fail(text, start, j, "an exponent needs digits (write 1e6)", rule)
    if i < n and (_is_name_char(text[i]) or text[i] == "."):
        j = i
        while j < n and (_is_name_char(text[j]) or text[j] == "."):
            j += 1
        fail(
            text,
            start,
            j,
            f"invalid number {text[start:j]!r}; write plain digits such as 25000 or 2.5e4",
            rule,
        )
    raw = text[start:i]
    value = float(raw.replace("_", ""))
    if value == float("inf"):
        fail(text, start, i, f"number {raw} is too large", rule)
    return Token("number", raw, start, i, value)


def _scan_string(text: str, start: int, rule: str | None) -> Token:
    quote = text[start]
    n = len(text)
    i = start + 1
    out: list[str] = []
    while i < n:
        ch = text[i]
        if ch == quote:
            return Token("string", "".join(out), start, i + 1, "".join(out))
        if ch == "\\":
            if i + 1 >= n:
                break
            esc = text[i + 1]
            if esc not in _ESCAPES:
                fail(
                    text,
                    i,
                    i + 2,
                    f"unknown escape '\\{esc}' in string; allowed: \\\" \\' \\\\ \\n \\t",
                    rule,
                )
            out.append(_ESCAPES[esc])
            i += 2
            continue
        if ch == "\n":
            break
        out.append(ch)
        i += 1
    fail(text, start, start + 1, f"string starting here is not closed; add a closing {quote}", rule)


def tokenize(text: str, rule: str | None = None) -> list[Token]:
    """Split a condition into tokens, ending with an ``eof`` token.

    Parameters
    ----------
    text:
        The condition.
    rule:
        Name of the rule it belongs to, used in error messages.

    Raises
    ------
    RuleError
        An unknown character, an unclosed string or a malformed number; the error names
        the position.

    Examples
    --------
    >>> [t.text for t in tokenize('amount >= 1_000 and channel == "ecom"')]
    ['amount', '>=', '1_000', 'and', 'channel', '==', 'ecom', '']
    """
    tokens: list[Token] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() and ch.isascii():
            tok = _scan_number(text, i, rule)
        elif ch in "\"'":
            tok = _scan_string(text, i, rule)
        elif _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            kind: TokenKind = "keyword" if word in KEYWORDS else "name"
            tok = Token(kind, word, i, j)
        else:
            two = text[i : i + 2]
            if two in _FOREIGN:
                fail(text, i, i + 2, f"unexpected '{two}': {_FOREIGN[two]}", rule)
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                if ch in _FOREIGN:
                    fail(text, i, i + 1, f"unexpected '{ch}': {_FOREIGN[ch]}", rule)
                fail(text, i, i + 1, f"unexpected character {ch!r}", rule)
            tok = Token("op", op, i, i + len(op))
        tokens.append(tok)
        i = tok.end
    tokens.append(Token("eof", "", n, n))
    return tokens
