"""Error messages of the rule language: the position, a caret excerpt and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NoReturn

from fraudwatch.errors import RuleError

__all__ = ["excerpt", "fail", "suggest"]


def suggest(word: str, candidates: Iterable[str]) -> str:
    """Return ``" — did you mean 'x'?"`` for the closest candidate, or ``""``.

    >>> suggest("amout", ["amount", "channel"])
    " — did you mean 'amount'?"
    """
    pool = list(candidates)
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f" — did you mean '{matches[0]}'?" if matches else ""


def excerpt(text: str, pos: int, end: int | None = None) -> str:
    """Render the line of ``text`` holding ``pos`` with carets under ``pos:end``.

    >>> print(excerpt("amount > x", 9))
        amount > x
                 ^
    """
    pos = max(0, min(pos, len(text)))
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    if line_end < 0:
        line_end = len(text)
    stop = line_end if end is None else max(pos + 1, min(end, line_end))
    width = max(1, stop - pos)
    line = text[line_start:line_end]
    pad = "".join("\t" if ch == "\t" else " " for ch in text[line_start:pos])
    return f"    {line}\n    {pad}{'^' * width}"


def fail(text: str, pos: int, end: int | None, message: str, rule: str | None) -> NoReturn:
    """Raise a :class:`RuleError` at ``pos`` with an excerpt of ``text``.

    When the condition has several lines, the line and column are named too.
    """
    where = ""
    if "\n" in text:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        where = f" (line {line}, column {column} of the condition)"
    raise RuleError(f"{message}{where}\n{excerpt(text, pos, end)}", rule=rule, position=pos)
