"""Profiles: how another file layout maps onto the canonical transaction schema.

A :class:`Profile` names, for canonical columns, the source column they come from (one
source may feed several canonical columns), constant values, value maps (e.g. channel
codes), pass-through numeric columns and the timestamp conventions. Canonical columns a
profile does not map are taken from source columns of the same name when present, so the
``native`` profile is simply the empty mapping.

Built-in profiles: ``native``, ``handbook`` and ``ulb`` (see docs/schema.md). A path to a
``.yaml``/``.yml`` file loads a user mapping (:func:`fraudwatch.io.load_profile_file`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fraudwatch.errors import ConfigError, MissingColumnsError
from fraudwatch.schema.columns import REQUIRED_COLUMNS, canonical_dtypes
from fraudwatch.schema.timestamps import TimestampSpec
from fraudwatch.schema.validate import RESERVED, ColumnPlan, FieldSource

__all__ = [
    "BUILTIN_PROFILES",
    "HANDBOOK_SCENARIOS",
    "ULB_DEFAULT_START",
    "Profile",
    "builtin_profiles",
    "get_profile",
    "handbook_profile",
    "native_profile",
    "ulb_profile",
]

ULB_DEFAULT_START = datetime(2013, 9, 1, tzinfo=UTC)
"""Default origin of the ULB ``Time`` column (the data was collected in September 2013)."""

HANDBOOK_SCENARIOS: dict[str, str] = {
    "0": "legit",
    "1": "amount_over_220",
    "2": "compromised_terminal",
    "3": "compromised_customer",
}
"""``TX_FRAUD_SCENARIO`` codes of the Fraud Detection Handbook data."""


@dataclass(frozen=True)
class Profile:
    """A mapping from one file layout to the canonical schema.

    Parameters
    ----------
    name:
        Short name shown in messages.
    description:
        One line for ``--help`` and docs.
    columns:
        Canonical column -> source column.
    timestamp:
        How the layout writes times.
    constants:
        Canonical column -> value used for every row (as text).
    values:
        Canonical column -> {source value: canonical value}; other values are kept.
    passthrough:
        Source columns kept as ``Float64`` features under their own names.
    unavailable:
        Required canonical columns the layout does not have; rows are not rejected for them.
    row_number_id:
        ``transaction_id`` is the zero-based record number in the file.

    Examples
    --------
    >>> p = Profile("bank", columns={"amount": "amt"}, constants={"currency": "EUR"})
    >>> p.source_of("amount"), p.source_of("card_id")
    ('amt', 'card_id')
    """

    name: str
    description: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    timestamp: TimestampSpec = field(default_factory=TimestampSpec)
    constants: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    passthrough: tuple[str, ...] = ()
    unavailable: frozenset[str] = frozenset()
    row_number_id: bool = False

    def __post_init__(self) -> None:
        canon = canonical_dtypes()
        for what, keys in (
            ("columns", self.columns),
            ("constants", self.constants),
            ("values", self.values),
        ):
            for key in keys:
                if key not in canon:
                    raise ConfigError(
                        f"profile {self.name!r}: {what}.{key} is not a canonical column; "
                        f"use one of {', '.join(canon)}"
                    )
        for key in self.columns:
            if key in self.constants:
                raise ConfigError(
                    f"profile {self.name!r}: {key} is given both in columns and in constants; "
                    "keep one"
                )
        for key in self.unavailable:
            if key not in REQUIRED_COLUMNS:
                raise ConfigError(
                    f"profile {self.name!r}: unavailable.{key} is not a required column; "
                    f"only {', '.join(REQUIRED_COLUMNS)} can be declared unavailable"
                )
        for key in self.passthrough:
            if key in canon:
                raise ConfigError(
                    f"profile {self.name!r}: passthrough column {key!r} is a canonical column; "
                    "map it under columns instead"
                )
        self.timestamp.check_format()

    def source_of(self, canonical: str) -> str | None:
        """The source column read for ``canonical`` (None when constant or generated)."""
        if canonical in self.constants:
            return None
        if canonical == "transaction_id" and self.row_number_id:
            return None
        return self.columns.get(canonical, canonical)

    def plan(
        self,
        found: Sequence[str],
        *,
        passthrough: Sequence[str] = (),
        source: str | None = None,
    ) -> tuple[ColumnPlan, tuple[str, ...]]:
        """Resolve the profile against the columns of one file.

        Parameters
        ----------
        found:
            The file's columns.
        passthrough:
            Extra source columns to keep as ``Float64`` features.
        source:
            The file's name, for messages.

        Returns
        -------
        tuple
            The :class:`ColumnPlan` and the file's columns that are not used.

        Raises
        ------
        MissingColumnsError
            A required column (or a requested pass-through column) is absent.
        ConfigError
            A pass-through column is a canonical column.
        """
        present = [c for c in found if c not in RESERVED]
        have = set(present)
        explicit = {self.columns[c] for c in self.columns}
        sources: dict[str, FieldSource] = {}
        missing: list[str] = []
        notes: list[str] = []
        for name in canonical_dtypes():
            values = tuple((str(k), str(v)) for k, v in self.values.get(name, {}).items())
            if name in self.constants:
                sources[name] = FieldSource(constant=str(self.constants[name]), values=values)
            elif name == "transaction_id" and self.row_number_id:
                sources[name] = FieldSource(row_number=True)
            elif name in self.columns:
                src = self.columns[name]
                if src in have:
                    sources[name] = FieldSource(column=src, values=values)
                elif name in REQUIRED_COLUMNS and name not in self.unavailable:
                    missing.append(src)
                    notes.append(f"{src} (for {name})")
            elif name in have and name not in explicit:
                sources[name] = FieldSource(column=name, values=values)
            elif name in REQUIRED_COLUMNS and name not in self.unavailable:
                missing.append(name)
                notes.append(name)
        features: list[str] = []
        for name in (*self.passthrough, *passthrough):
            if name in canonical_dtypes():
                raise ConfigError(
                    f"pass-through column {name!r} is a canonical column; it is read anyway"
                )
            if name in features:
                continue
            if name not in have:
                missing.append(name)
                notes.append(f"{name} (pass-through)")
            features.append(name)
        if missing:
            raise MissingColumnsError(
                missing, present, source=source, hint=self._missing_hint(notes, present)
            )
        used = {s.column for s in sources.values() if s.column is not None} | set(features)
        ignored = tuple(c for c in present if c not in used)
        plan = ColumnPlan(
            sources=sources,
            timestamp=self.timestamp,
            passthrough=tuple(features),
            not_required=frozenset(self.unavailable),
        )
        return plan, ignored

    def _missing_hint(self, notes: list[str], present: Sequence[str]) -> str:
        hint = f"Profile {self.name!r} needs {', '.join(notes)}"
        if self.name == "native":
            hint += (
                "; rename the columns to the canonical names (docs/schema.md) or choose a "
                "profile with --profile (handbook, ulb, or a mapping .yaml)"
            )
        else:
            hint += "; check that the file matches this profile"
        if len(present) == 1 and any(sep in present[0] for sep in (";", "\t", "|")):
            hint += (
                f". The header {present[0]!r} looks like another separator: fraudwatch reads "
                "comma-separated files"
            )
        return hint


def native_profile() -> Profile:
    """The canonical layout: canonical column names, ISO-8601 or epoch-second times."""
    return Profile(
        "native",
        description="canonical column names (docs/schema.md); ISO-8601 or epoch-second times",
    )


def handbook_profile() -> Profile:
    """The Fraud Detection Handbook's simulated data (``TX_*`` columns)."""
    return Profile(
        "handbook",
        description="Fraud Detection Handbook simulated data (TRANSACTION_ID, TX_DATETIME, ...)",
        columns={
            "transaction_id": "TRANSACTION_ID",
            "timestamp": "TX_DATETIME",
            "card_id": "CUSTOMER_ID",
            "customer_id": "CUSTOMER_ID",
            "terminal_id": "TERMINAL_ID",
            "merchant_id": "TERMINAL_ID",
            "amount": "TX_AMOUNT",
            "is_fraud": "TX_FRAUD",
            "fraud_scenario": "TX_FRAUD_SCENARIO",
        },
        values={"fraud_scenario": dict(HANDBOOK_SCENARIOS)},
    )


def ulb_profile(start: datetime = ULB_DEFAULT_START) -> Profile:
    """The Kaggle / ULB ``creditcard.csv`` layout (Time, V1..V28, Amount, Class).

    Parameters
    ----------
    start:
        The instant ``Time == 0`` stands for (timezone-aware).
    """
    return Profile(
        "ulb",
        description="Kaggle/ULB creditcard.csv (Time, V1..V28, Amount, Class); no card column",
        columns={"timestamp": "Time", "amount": "Amount", "is_fraud": "Class"},
        timestamp=TimestampSpec(unit="s", origin=start),
        passthrough=tuple(f"V{i}" for i in range(1, 29)),
        unavailable=frozenset({"card_id"}),
        row_number_id=True,
    )


_BUILTINS: dict[str, Callable[[], Profile]] = {
    "native": native_profile,
    "handbook": handbook_profile,
    "ulb": ulb_profile,
}

BUILTIN_PROFILES: tuple[str, ...] = tuple(_BUILTINS)
"""Names of the built-in profiles."""


def builtin_profiles() -> dict[str, Profile]:
    """Return every built-in profile by name."""
    return {name: make() for name, make in _BUILTINS.items()}


def get_profile(name_or_path: str | Path | Profile) -> Profile:
    """Return a built-in profile by name, or load a YAML mapping file.

    Parameters
    ----------
    name_or_path:
        ``native``, ``handbook``, ``ulb``, a path to a ``.yaml``/``.yml`` mapping, or a
        :class:`Profile` (returned as is).

    Raises
    ------
    ConfigError
        Unknown name, missing file, or an invalid mapping (the message names the key).

    Examples
    --------
    >>> get_profile("handbook").columns["amount"]
    'TX_AMOUNT'
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    text = str(name_or_path)
    if isinstance(name_or_path, str) and text.lower() in _BUILTINS:
        return _BUILTINS[text.lower()]()
    if Path(text).suffix.lower() in (".yaml", ".yml"):
        from fraudwatch.io._profile_file import load_profile_file

        return load_profile_file(Path(text))
    raise ConfigError(
        f"unknown profile {text!r}; use one of {', '.join(BUILTIN_PROFILES)} or the path of a "
        "mapping file ending in .yaml"
    )
