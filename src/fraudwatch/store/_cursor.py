"""Opaque cursors for keyset pagination.

A cursor is URL-safe base64 of a small JSON document holding the sort key of the last row
returned and the listing's filters. Keyset pagination (``WHERE (key) > (last key)``) never
repeats or skips a row that existed when paging started, however many rows arrive meanwhile;
the filters are checked so a cursor cannot be replayed against a different listing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fraudwatch.errors import ConfigError

__all__ = ["decode_cursor", "encode_cursor"]

_VERSION = 1


def encode_cursor(kind: str, key: list[Any], filters: Mapping[str, Any]) -> str:
    """Make the cursor that continues a listing after the row whose sort key is ``key``.

    ``datetime`` values in ``key`` are written as ISO-8601 text.

    >>> c = encode_cursor("cases", [3], {"status": "open"})
    >>> decode_cursor(c, "cases", {"status": "open"})
    [3]
    """
    doc = {
        "v": _VERSION,
        "t": kind,
        "k": [v.isoformat() if isinstance(v, datetime) else v for v in key],
        "f": dict(filters),
    }
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, kind: str, filters: Mapping[str, Any]) -> list[Any]:
    """Return the sort key stored in ``cursor``.

    Raises
    ------
    ConfigError
        The cursor is malformed, or was made by another listing or with other filters.
    """
    how = "pass the next_cursor of the previous page unchanged, or omit it to start over"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ConfigError(f"invalid cursor {cursor[:40]!r}; {how}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("v") != _VERSION
        or doc.get("t") != kind
        or not isinstance(doc.get("k"), list)
    ):
        raise ConfigError(f"invalid cursor {cursor[:40]!r}; {how}")
    if doc.get("f") != dict(filters):
        raise ConfigError(
            f"this cursor was made for other filters ({doc.get('f')}) than this request "
            f"({dict(filters)}); {how}"
        )
    key: list[Any] = doc["k"]
    return key
