"""Value types of the rule language and the named lists rules can refer to."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import polars as pl

from fraudwatch.schema.columns import COLUMNS, LABEL_COLUMNS

__all__ = [
    "ACTIONS",
    "LABEL_FIELDS",
    "LIST_FIELDS",
    "LIST_GROUPS",
    "LIST_KINDS",
    "Action",
    "FieldType",
    "NamedList",
    "canonical_field_types",
    "describe_type",
    "field_type_of_dtype",
    "resolve_field_types",
]

Action: TypeAlias = Literal["allow", "review", "decline"]
ACTIONS: Final[tuple[Action, ...]] = ("allow", "review", "decline")

FieldType: TypeAlias = Literal["number", "string", "bool", "datetime"]
"""Type of a field: numbers (all numeric columns, compared as 64-bit floats), strings,
booleans, and timestamps (which a rule can only test with ``is null``)."""

LIST_KINDS: Final = ("cards", "merchants", "devices", "ips")
"""Kinds of the built-in allow and deny lists."""

LIST_FIELDS: Final[Mapping[str, str]] = {
    "cards": "card_id",
    "merchants": "merchant_id",
    "devices": "device_id",
    "ips": "ip_address",
}
"""The transaction field each built-in list kind is matched against."""

LIST_GROUPS: Final = ("denylist", "allowlist", "lists")
"""Prefixes of list references: ``denylist.cards``, ``allowlist.ips``, ``lists.<name>``."""

LABEL_FIELDS: Final = frozenset(LABEL_COLUMNS)
"""Ground-truth columns: unknown when a decision is made, so rules may not use them."""


@dataclass(frozen=True)
class NamedList:
    """A list of values a condition can test with ``in``.

    Attributes
    ----------
    name:
        Qualified name, e.g. ``denylist.cards`` or ``lists.high_risk_countries``.
    values:
        The members.
    type:
        Type of the members, or ``None`` for an empty list (matches anything).
    source:
        Where the values came from (a file path or ``"inline"``).
    """

    name: str
    values: frozenset[str] | frozenset[float] | frozenset[bool]
    type: FieldType | None
    source: str = "inline"

    def __len__(self) -> int:
        return len(self.values)


def describe_type(kind: str | None) -> str:
    """Human wording of a type, for messages.

    >>> describe_type("bool")
    'true/false'
    """
    return {
        "number": "a number",
        "string": "a string",
        "bool": "true/false",
        "datetime": "a timestamp",
        "null": "null",
    }.get(kind or "", "a value")


def field_type_of_dtype(dtype: pl.DataType) -> FieldType | None:
    """Map a polars dtype to a field type, ``None`` when rules cannot use it.

    >>> field_type_of_dtype(pl.Int32())
    'number'
    """
    if dtype.is_numeric():
        return "number"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "string"
    if isinstance(dtype, pl.Boolean):
        return "bool"
    if isinstance(dtype, pl.Datetime | pl.Date):
        return "datetime"
    return None


def canonical_field_types() -> dict[str, FieldType]:
    """Types of the canonical transaction fields (labels excluded)."""
    out: dict[str, FieldType] = {}
    for col in COLUMNS:
        kind = field_type_of_dtype(col.dtype)
        if kind is not None and col.name not in LABEL_FIELDS:
            out[col.name] = kind
    return out


def resolve_field_types(
    known_fields: Collection[str] | Mapping[str, FieldType] | None,
) -> dict[str, FieldType] | None:
    """Turn the ``known_fields`` argument of the loaders into ``{name: type}``.

    Parameters
    ----------
    known_fields:
        ``None``: any name is accepted (canonical fields keep their type, other names are
        numbers). A collection of names (e.g. a feature set's names): those names and the
        canonical fields are accepted; non-canonical names are numbers. A mapping gives
        the type of each name explicitly (canonical fields are added when absent).

    Returns
    -------
    dict or None
        ``None`` means "accept any name".
    """
    if known_fields is None:
        return None
    out = canonical_field_types()
    if isinstance(known_fields, Mapping):
        out.update(known_fields)
    else:
        for name in known_fields:
            out.setdefault(name, "number")
    for label in LABEL_FIELDS:
        out.pop(label, None)
    return out
