"""Row validation: raw source columns in, canonical rows and quarantined rows out.

A *raw batch* is a polars DataFrame holding the source file's columns (text for CSV and
JSON Lines, typed for Parquet) plus the bookkeeping columns named in :data:`RESERVED`
(line number, record index, record-level problems). A :class:`ColumnPlan` says where each
canonical column comes from. :class:`RowValidator` turns successive raw batches of one
input into accepted rows (canonical dtypes, input order) and rejected rows (``line``,
``reason``, every original field as text), remembering transaction ids across batches so
duplicates are caught anywhere in the file.

Every problem of a row is listed in its ``reason``, separated by ``"; "``; each problem is
written ``<column>: <what is wrong>`` (``row: ...`` for problems of the whole record). The
catalogue is :data:`REASONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from fraudwatch.errors import DataValidationError
from fraudwatch.schema.columns import CHANNELS, REQUIRED_COLUMNS, canonical_dtypes
from fraudwatch.schema.timestamps import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    TimestampSpec,
    parse_timestamp_series,
)

__all__ = [
    "ISSUE",
    "LINE",
    "NOT_UTF8",
    "RAW",
    "RAW_RECORD_COLUMN",
    "REASONS",
    "RESERVED",
    "ROW",
    "UNDECODABLE",
    "ColumnPlan",
    "FieldSource",
    "RowValidator",
    "text_columns",
]

LINE = "__fw_line__"
"""Raw-batch column: one-based physical line (CSV, JSON Lines) or row (Parquet)."""
ROW = "__fw_row__"
"""Raw-batch column: zero-based index of the record among the file's records."""
ISSUE = "__fw_issue__"
"""Raw-batch column: a problem of the whole record (its fields could not be read), or null."""
UNDECODABLE = "__fw_undecodable__"
"""Raw-batch column: True when the record held bytes that are not UTF-8."""
RAW = "__fw_raw__"
"""Raw-batch column: the record's original text when its fields could not be read."""
RESERVED: tuple[str, ...] = (LINE, ROW, ISSUE, UNDECODABLE, RAW)

RAW_RECORD_COLUMN = "raw_record"
"""Column of the rejected rows holding a record that could not be split into fields."""

NOT_UTF8 = "row: not valid UTF-8 (bad bytes shown as \\xNN)"

REASONS: dict[str, str] = {
    "<column>: missing": "a required value is empty or absent",
    "transaction_id: duplicate": "an earlier row of the input has the same transaction_id "
    "(the first occurrence is kept)",
    "timestamp: unparseable": "not ISO-8601, not a number, not in the profile's format",
    "timestamp: out of range": "before 1900-01-01 or from 2200-01-01 (often epoch "
    "milliseconds read as seconds)",
    "amount: not a number": "text that is not a decimal number",
    "amount: NaN": "the value is NaN",
    "amount: infinite": "the value is infinite",
    "amount: negative": "the amount is below zero",
    "channel: unknown value": f"not one of {', '.join(CHANNELS)} (any case)",
    "currency: not 3 letters": "not a 3-letter ISO 4217 code",
    "country: not 2 letters": "not a 2-letter ISO 3166 code",
    "merchant_category: not 4 digits": "an MCC must be exactly 4 digits, leading zeros kept",
    "latitude: not a number": "text that is not a decimal number",
    "latitude: out of range": "outside -90..90 (or NaN)",
    "longitude: not a number": "text that is not a decimal number",
    "longitude: out of range": "outside -180..180 (or NaN)",
    "is_fraud: not 0/1": "a label other than 0, 1, true or false",
    "<passthrough column>: not a number": "a pass-through feature that is not a number",
    NOT_UTF8: "the record holds bytes that are not UTF-8",
    "row: malformed JSON": "the line is not valid JSON",
    "row: not a JSON object": "the line is JSON but not an object",
    "row: expected N fields, found M": "a CSV record with the wrong number of fields",
    "row: unterminated quoted field": "a CSV quote that is never closed",
}
"""Every rejection reason, with what it means (rendered in docs/schema.md)."""

_STRING_CHECKS: dict[str, tuple[str, str]] = {
    "currency": (r"^[A-Z]{3}$", "currency: not 3 letters"),
    "country": (r"^[A-Z]{2}$", "country: not 2 letters"),
    "merchant_category": (r"^[0-9]{4}$", "merchant_category: not 4 digits"),
}
_RANGES: dict[str, tuple[float, float]] = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}


@dataclass(frozen=True)
class FieldSource:
    """Where one canonical column comes from.

    Exactly one of ``column``, ``constant`` or ``row_number`` is set.

    Parameters
    ----------
    column:
        A source column.
    constant:
        A value (as text) used for every row; it is parsed like a source value.
    row_number:
        Use the zero-based record index in the file, as text.
    values:
        ``(source value, canonical value)`` pairs applied to the stripped text first;
        values not listed are kept.
    """

    column: str | None = None
    constant: str | None = None
    row_number: bool = False
    values: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        given = (self.column is not None) + (self.constant is not None) + self.row_number
        if given != 1:
            raise ValueError("FieldSource needs exactly one of column, constant, row_number")


@dataclass(frozen=True)
class ColumnPlan:
    """What to produce from a raw batch.

    Parameters
    ----------
    sources:
        Canonical column name -> its source, for every canonical column produced.
    timestamp:
        How the input writes times.
    passthrough:
        Source columns kept, under their own names, as ``Float64`` features.
    not_required:
        Required canonical columns the layout does not have (no row is rejected for them).
    """

    sources: Mapping[str, FieldSource]
    timestamp: TimestampSpec = field(default_factory=TimestampSpec)
    passthrough: tuple[str, ...] = ()
    not_required: frozenset[str] = frozenset()

    def output_columns(self) -> list[str]:
        """Names of the accepted frame's columns, in order (schema order, then features)."""
        canon = [name for name in canonical_dtypes() if name in self.sources]
        return canon + list(self.passthrough)


def text_columns(frame: pl.DataFrame, names: Sequence[str]) -> list[pl.Expr]:
    """Expressions rendering ``names`` of ``frame`` as text (for quarantined rows)."""
    exprs: list[pl.Expr] = []
    for name in names:
        dtype = frame.schema[name]
        col = pl.col(name)
        if isinstance(dtype, pl.String):
            exprs.append(col)
        elif isinstance(dtype, pl.Binary):
            exprs.append(col.bin.encode("hex").alias(name))
        elif isinstance(dtype, pl.Struct):
            exprs.append(col.struct.json_encode().alias(name))
        elif dtype.is_nested():
            exprs.append(pl.struct(col).struct.json_encode().alias(name))
        else:
            exprs.append(col.cast(pl.String, strict=False).alias(name))
    return exprs


_Check = tuple[pl.Expr, str]
"""A problem check: (condition true on the rows that have the problem, reason)."""


def _when(cond: pl.Expr, reason: str) -> pl.Expr:
    return pl.when(cond).then(pl.lit(reason)).otherwise(pl.lit(None, pl.String))


def _blank_to_null(name: str) -> pl.Expr:
    """Column ``name`` (stripped text) with its empty values as null."""
    col = pl.col(name)
    return pl.when(col.str.len_bytes() > 0).then(col).otherwise(None).alias(name)


_HASH_SEED = 0x66775F6964
"""Seed of the 64-bit id hashes (any fixed value: hashes never leave the process)."""


def _falses(n: int) -> pl.Series:
    return pl.repeat(False, n, dtype=pl.Boolean, eager=True)


def _hash_ids(ids: pl.Series) -> pl.Series:
    """64-bit hashes of ids (the same id always gets the same hash in a process)."""
    return ids.hash(_HASH_SEED)


class _SeenIds:
    """Exact duplicate detection over the successive batches of one input.

    The 64-bit hashes of the ids seen so far are kept in sorted, disjoint runs merged
    geometrically, so checking a batch costs one integer sort and O(batch x log n)
    integer comparisons: no text is sorted or hashed into a table. Ids are compared as
    text only on the rare rows whose hash was met before (a repeated id or a hash
    collision), which keeps the answer exact. The ids themselves are kept as they came
    (a reference to each batch's column, no copy).

    Parameters
    ----------
    hasher:
        Id -> UInt64 hash; tests pass a colliding one to exercise the exact comparison.
    """

    def __init__(self, hasher: Callable[[pl.Series], pl.Series] = _hash_ids) -> None:
        self._hash = hasher
        self._runs: list[pl.Series] = []
        self._ids: list[pl.Series] = []

    def duplicates(self, ids: pl.Series) -> pl.Series:
        """Flag each non-null id that an earlier row has, in this batch or an earlier one.

        The batch's ids are then remembered for the following batches.

        >>> seen = _SeenIds()
        >>> seen.duplicates(pl.Series(["a", "b", "a", None, None])).to_list()
        [False, False, True, False, False]
        >>> seen.duplicates(pl.Series(["c", "b", "c"])).to_list()
        [False, True, True]
        """
        hashes = self._hash(ids)
        if ids.null_count():
            present = ids.is_not_null()
            known_ids, known = ids.filter(present), hashes.filter(present)
        else:
            known_ids, known = ids, hashes
        ordered = known.sort()
        n = ordered.len()
        repeated = n > 1 and bool((ordered.slice(1) == ordered.slice(0, n - 1)).any())
        if repeated:
            ordered = ordered.filter((ordered != ordered.shift(1)).fill_null(True))
        met = _falses(ordered.len())
        for run in self._runs:
            at = run.search_sorted(ordered, side="left")
            met = met | ((at < run.len()) & (run.gather(at.clip(0, run.len() - 1)) == ordered))
        dup = _falses(ids.len())
        if repeated:
            dup = dup | _later_repeats(ids, hashes)
        if met.any():
            dup = dup | self._in_earlier_batches(ids, hashes, ordered.filter(met))
        if n:
            self._ids.append(known_ids)
            self._add_run(ordered.filter(~met) if met.any() else ordered)
        return (dup & ids.is_not_null()).alias("__dup")

    def _in_earlier_batches(
        self, ids: pl.Series, hashes: pl.Series, suspects: pl.Series
    ) -> pl.Series:
        """True where the id is in an earlier batch, comparing text on the suspect rows.

        ``suspects`` are the hashes of this batch met in an earlier batch.
        """
        wanted = suspects.implode()
        rows = hashes.is_in(wanted).arg_true()
        earlier = pl.concat([old.filter(self._hash(old).is_in(wanted)) for old in self._ids])
        found = ids.gather(rows).is_in(earlier.implode()).fill_null(False)
        return _falses(ids.len()).scatter(rows.filter(found), True)

    def _add_run(self, run: pl.Series) -> None:
        """Keep ``run`` (sorted, no hash of an earlier run); merge runs of similar size."""
        if run.is_empty():
            return
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            last = self._runs.pop()
            prev = self._runs.pop()
            merged = prev.to_frame("h").merge_sorted(last.to_frame("h"), key="h")
            self._runs.append(merged.to_series())


def _later_repeats(ids: pl.Series, hashes: pl.Series) -> pl.Series:
    """True where the same id occurs on an earlier row of the batch."""
    rows = hashes.is_duplicated().arg_true()  # every repeat of an id is among these rows
    later = rows.filter(~ids.gather(rows).is_first_distinct())
    return _falses(ids.len()).scatter(later, True)


@dataclass(frozen=True)
class _Exprs:
    """Expressions of one raw-batch schema (built once, reused for every batch).

    ``sources`` select the stripped source values, ``blanks`` turn the empty texts among
    them into nulls, ``values`` parse them; ``bad`` says whether a row has a problem and
    ``problems`` writes its reason (non-empty exactly where ``bad`` is true), so reasons
    are only written for the rejected rows.
    """

    sources: list[pl.Expr]
    blanks: list[pl.Expr]
    values: list[pl.Expr]
    bad: pl.Expr
    problems: pl.Expr
    timestamp_source: str | None


class RowValidator:
    """Validate the raw batches of one input, in order.

    Parameters
    ----------
    plan:
        Where each canonical column comes from.
    strict:
        Raise :class:`DataValidationError` at the first problem instead of quarantining.

    Examples
    --------
    >>> raw = pl.DataFrame({"amount": ["1.5", "-2"], LINE: [2, 3], ROW: [0, 1]})
    >>> plan = ColumnPlan({"amount": FieldSource(column="amount")})
    >>> accepted, rejected = RowValidator(plan).validate(raw)
    >>> accepted["amount"].to_list(), rejected["reason"].to_list()
    ([1.5], ['amount: negative'])
    """

    def __init__(self, plan: ColumnPlan, *, strict: bool = False) -> None:
        self.plan = plan
        self.strict = strict
        self._seen = _SeenIds()
        self._cache: dict[tuple[tuple[str, str], ...], _Exprs] = {}

    # -- per-column expressions -------------------------------------------------------

    def _source(self, src: FieldSource, schema: Mapping[str, pl.DataType]) -> tuple[pl.Expr, bool]:
        """(the source value, whether it is text whose empty values must become null).

        Text is stripped here; empty text becomes null in a second step (see
        :func:`_blank_to_null`) so each value is stripped once.
        """
        if src.row_number:
            return pl.col(ROW).cast(pl.String), False
        if src.constant is not None:
            expr: pl.Expr = pl.lit(src.constant, pl.String)
            dtype: pl.DataType = pl.String()
        else:
            assert src.column is not None
            if src.column not in schema:
                return pl.lit(None, pl.String), False
            expr, dtype = pl.col(src.column), schema[src.column]
        if src.values:
            if not isinstance(dtype, pl.String):
                expr = expr.cast(pl.String, strict=False)
            mapping = dict(src.values)
            expr = expr.str.strip_chars().replace(list(mapping), list(mapping.values()))
            dtype = pl.String()
        if isinstance(dtype, pl.String):
            return expr.str.strip_chars(), True
        return expr, False

    @staticmethod
    def _dtype_of(src: FieldSource, schema: Mapping[str, pl.DataType]) -> pl.DataType:
        if src.values or src.row_number or src.constant is not None:
            return pl.String()
        assert src.column is not None
        return schema.get(src.column, pl.String())

    def _column(self, name: str, src: str, dtype: pl.DataType) -> tuple[pl.Expr, list[_Check]]:
        """(canonical value from column ``src``, problem checks).

        The checks read the source column ``src`` and the parsed column ``name``, so each
        value is parsed once.
        """
        value = pl.col(src)
        present = value.is_not_null()
        out = pl.col(name)
        checks: list[_Check] = []
        if name in REQUIRED_COLUMNS and name not in self.plan.not_required:
            checks.append((~present, f"{name}: missing"))
        target = canonical_dtypes()[name]
        parsed: pl.Expr
        if name == "timestamp":
            parsed = out  # parsed in validate() with parse_timestamp_series
            checks.append((present & out.is_null(), "timestamp: unparseable"))
            checks.append(
                ((out < TIMESTAMP_MIN) | (out >= TIMESTAMP_MAX), "timestamp: out of range")
            )
        elif name == "is_fraud":
            parsed = _label(value, dtype)
            checks.append((present & out.is_null(), "is_fraud: not 0/1"))
        elif isinstance(target, pl.Float64):
            parsed = value.cast(pl.Float64, strict=False)
            checks.append((present & out.is_null(), f"{name}: not a number"))
            if name == "amount":
                checks.append((out.is_nan(), "amount: NaN"))
                checks.append((out.is_infinite(), "amount: infinite"))
                checks.append((~out.is_nan() & (out < 0), "amount: negative"))
            elif name in _RANGES:
                low, high = _RANGES[name]
                bad = out.is_nan() | (out < low) | (out > high)
                checks.append((bad, f"{name}: out of range"))
        else:
            parsed = value if isinstance(dtype, pl.String) else value.cast(pl.String, strict=False)
            if name == "merchant_category" and dtype.is_integer():
                parsed = parsed.str.zfill(4)
            if name == "channel":
                parsed = parsed.str.to_lowercase()
                checks.append((present & ~out.is_in(CHANNELS), "channel: unknown value"))
            elif name in ("currency", "country"):
                parsed = parsed.str.to_uppercase()
            if name in _STRING_CHECKS:
                pattern, reason = _STRING_CHECKS[name]
                checks.append((present & ~out.str.contains(pattern), reason))
        return parsed.cast(target).alias(name), checks

    # -- one batch ----------------------------------------------------------------------

    def _build(self, schema: Mapping[str, pl.DataType]) -> _Exprs:
        sources: list[pl.Expr] = []
        blanks: list[pl.Expr] = []
        values: list[pl.Expr] = []
        checks: list[_Check] = []
        ts_source: str | None = None

        def add_source(src: FieldSource, tmp: str) -> None:
            expr, text = self._source(src, schema)
            sources.append(expr.alias(tmp))
            if text:
                blanks.append(_blank_to_null(tmp))

        for i, (name, src) in enumerate(self.plan.sources.items()):
            tmp = f"__src{i}"
            add_source(src, tmp)
            out, col_checks = self._column(name, tmp, self._dtype_of(src, schema))
            if name == "timestamp":
                ts_source = tmp
            else:
                values.append(out)
            checks.extend(col_checks)
        for j, name in enumerate(self.plan.passthrough):
            tmp = f"__feat{j}"
            add_source(FieldSource(column=name), tmp)
            values.append(pl.col(tmp).cast(pl.Float64, strict=False).alias(name))
            checks.append(
                (pl.col(tmp).is_not_null() & pl.col(name).is_null(), f"{name}: not a number")
            )
        if "transaction_id" in self.plan.sources:
            checks.append((pl.col("__dup"), "transaction_id: duplicate"))
        if UNDECODABLE in schema:
            checks.insert(0, (pl.col(UNDECODABLE), NOT_UTF8))
        issue = pl.col(ISSUE) if ISSUE in schema else pl.lit(None, pl.String)
        # a check whose condition is null (e.g. a comparison with a null value) is no problem
        any_problem = pl.any_horizontal([cond for cond, _ in checks]) if checks else pl.lit(False)
        bad = (
            pl.when(issue.is_not_null())
            .then(issue.str.len_bytes() > 0)
            .otherwise(any_problem.fill_null(False))
        )
        problems = pl.concat_str(
            [_when(cond, reason) for cond, reason in checks] or [pl.lit(None, pl.String)],
            separator="; ",
            ignore_nulls=True,
        )
        reason = pl.when(issue.is_not_null()).then(issue).otherwise(problems.fill_null(""))
        sources += [pl.col(c) for c in (ISSUE, UNDECODABLE) if c in schema]
        return _Exprs(sources, blanks, values, bad, reason, ts_source)

    def _stage(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, _Exprs]:
        """Canonical values of ``raw`` beside their sources and the ``__dup`` flags.

        Remembers the batch's transaction ids (so call it once per batch, in order).
        """
        key = tuple((name, str(dtype)) for name, dtype in raw.schema.items())
        exprs = self._cache.get(key)
        if exprs is None:
            exprs = self._cache[key] = self._build(raw.schema)
        staged = raw.select(exprs.sources)
        if exprs.blanks:
            staged = staged.with_columns(exprs.blanks)
        if exprs.timestamp_source is not None:
            stamps = parse_timestamp_series(staged[exprs.timestamp_source], self.plan.timestamp)
            staged = staged.with_columns(
                stamps.cast(canonical_dtypes()["timestamp"]).alias("timestamp")
            )
        staged = staged.with_columns(exprs.values)
        if "transaction_id" in self.plan.sources:
            staged = staged.with_columns(self._seen.duplicates(staged["transaction_id"]))
        return staged, exprs

    def validate(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Split one raw batch into (accepted, rejected).

        Raises
        ------
        DataValidationError
            In strict mode, for the first row with a problem.
        """
        staged, exprs = self._stage(raw)
        output = self.plan.output_columns()
        bad = staged.select(exprs.bad).to_series()
        if not bad.any():  # the common case: no reason to write, nothing to filter
            no_reasons = pl.Series("reason", [], dtype=pl.String)
            return staged.select(output), self._rejected(raw.clear(), no_reasons)
        flagged = staged.filter(bad)
        reasons = flagged.select(exprs.problems).to_series()
        if self.strict:
            self._raise_first(flagged, raw.filter(bad), reasons)
        accepted = staged.select(output).filter(~bad)
        return accepted, self._rejected(raw.filter(bad), reasons)

    @staticmethod
    def _raise_first(flagged: pl.DataFrame, raw: pl.DataFrame, reasons: pl.Series) -> None:
        """Raise for the first of the rejected rows (``flagged`` staged, ``raw`` source)."""
        line = int(raw[LINE][0])
        tid: str | None = None
        if "transaction_id" in flagged.columns:
            value = flagged["transaction_id"][0]
            tid = None if value is None else str(value)
        raise DataValidationError(
            f"{reasons[0]}. Fix the row, or run without --strict to move bad rows to a "
            "quarantine file and keep the rest",
            row=line,
            transaction_id=tid,
        )

    @staticmethod
    def _rejected(raw: pl.DataFrame, reasons: pl.Series) -> pl.DataFrame:
        originals = [c for c in raw.columns if c not in RESERVED]
        taken = {"line", "reason", RAW_RECORD_COLUMN}
        renamed = {c: (f"{c}_field" if c in taken else c) for c in originals}
        exprs = [
            pl.col(LINE).cast(pl.Int64).alias("line"),
            pl.lit(reasons).alias("reason"),
            *(
                e.alias(renamed[c])
                for e, c in zip(text_columns(raw, originals), originals, strict=True)
            ),
        ]
        if RAW in raw.columns and raw[RAW].null_count() < raw.height:
            exprs.append(pl.col(RAW).alias(RAW_RECORD_COLUMN))
        return raw.select(exprs)


def _label(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """0/1 label as Float64 from text, numbers or booleans; null when it is not 0/1."""
    if isinstance(dtype, pl.Boolean):
        return value.cast(pl.Float64)
    if isinstance(dtype, pl.String):
        lower = value.str.to_lowercase()
        num = (
            pl.when(lower == "true")
            .then(pl.lit(1.0))
            .when(lower == "false")
            .then(pl.lit(0.0))
            .otherwise(value.cast(pl.Float64, strict=False))
        )
    else:
        num = value.cast(pl.Float64, strict=False)
    return pl.when((num == 0.0) | (num == 1.0)).then(num).otherwise(None)
