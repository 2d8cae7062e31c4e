"""Durations written as short text (``"90s"``, ``"15m"``, ``"1h"``, ``"24h"``, ``"7d"``).

Feature definitions keep the text as written, so ``"24h"`` and ``"1d"`` are different
definitions with different names (``amount_sum_card_24h``, ``tx_count_terminal_1d``) that
cover the same span of time.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fraudwatch.errors import ConfigError

__all__ = ["US_PER_SECOND", "duration_text", "duration_us", "parse_duration"]

US_PER_SECOND = 1_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_PATTERN = re.compile(r"^([0-9]{1,6})([smhd])$")


def parse_duration(text: str) -> timedelta:
    """Return the span of a duration text.

    Parameters
    ----------
    text:
        A positive whole number followed by ``s``, ``m``, ``h`` or ``d`` (``"0d"`` is allowed
        for a zero label delay).

    Raises
    ------
    ConfigError
        The text is not of that form.

    Examples
    --------
    >>> parse_duration("24h") == timedelta(days=1)
    True
    """
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"invalid duration {text!r}: write a whole number and a unit s, m, h or d, "
            "e.g. '1h', '24h', '7d'"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def duration_us(text: str) -> int:
    """Return a duration text in microseconds.

    >>> duration_us("1m")
    60000000
    """
    return int(parse_duration(text).total_seconds()) * US_PER_SECOND


def duration_text(span: timedelta) -> str:
    """Write a span in the largest unit that divides it exactly.

    Raises
    ------
    ConfigError
        The span is negative or not a whole number of seconds.

    Examples
    --------
    >>> duration_text(timedelta(days=7))
    '7d'
    >>> duration_text(timedelta(hours=36))
    '36h'
    """
    if span < timedelta(0) or span % timedelta(seconds=1) != timedelta(0):
        raise ConfigError(f"invalid duration {span}: use a non-negative whole number of seconds")
    seconds = int(span.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s" if seconds else "0d"


def duration_words(text: str) -> str:
    """Say a duration text in words: ``"1h"`` -> ``"1 hour"``, ``"7d"`` -> ``"7 days"``.

    >>> duration_words("30d")
    '30 days'
    """
    parse_duration(text)
    number, unit = int(text[:-1]), text[-1]
    return f"{number} {_WORDS[unit]}{'' if number == 1 else 's'}"
