"""From a polars feature frame to the model's float matrix.

Numeric features become ``Float64`` (null -> ``NaN``). Categorical features arrive as strings;
each gets a vocabulary learnt from the training rows (the ``max_categories`` most frequent
values seen at least ``min_frequency`` times). Codes: ``1..len(vocabulary)`` for known
values, ``0`` (reserved, :data:`OTHER`) for rare and unseen values — so a category first seen
in production is scored like the rare ones of training — and ``NaN`` for a missing value.
The vocabularies are stored in the bundle manifest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any, Self

import numpy as np
import polars as pl

from fraudwatch.errors import BundleError, ConfigError, FeatureError
from fraudwatch.models._base import Matrix
from fraudwatch.models._params import Interval, validate_params

__all__ = ["OTHER", "FeatureEncoder"]

OTHER = "<other>"
"""Name of the reserved code 0 (rare or unseen category)."""


class FeatureEncoder:
    """Select the model's features from a frame, in order, and encode categories.

    Parameters
    ----------
    names:
        Feature names in model order.
    categorical:
        The names among ``names`` that are categorical (string) features.
    max_categories:
        Largest vocabulary per categorical feature.
    min_frequency:
        Fewest training rows for a value to get its own code.

    Examples
    --------
    >>> df = pl.DataFrame({"amount": [5.0, None, 7.0], "channel": ["pos", "ecom", "pos"]})
    >>> enc = FeatureEncoder(["amount", "channel"], ["channel"], min_frequency=2).fit(df)
    >>> enc.vocabularies_
    {'channel': ['pos']}
    >>> enc.transform(df).tolist()
    [[5.0, 1.0], [nan, 0.0], [7.0, 1.0]]
    """

    _parameter_constraints = {  # noqa: RUF012 - read-only table
        "max_categories": [Interval(Integral, 1)],
        "min_frequency": [Interval(Integral, 1)],
    }

    vocabularies_: dict[str, list[str]]

    def __init__(
        self,
        names: Sequence[str],
        categorical: Sequence[str] = (),
        *,
        max_categories: int = 1000,
        min_frequency: int = 5,
    ) -> None:
        self.names = tuple(names)
        self.categorical = tuple(categorical)
        self.max_categories = max_categories
        self.min_frequency = min_frequency

    # -- structure --------------------------------------------------------------------------
    @property
    def categorical_indices(self) -> tuple[int, ...]:
        """Column indices of the categorical features in the matrix."""
        cats = set(self.categorical)
        return tuple(i for i, n in enumerate(self.names) if n in cats)

    @property
    def numeric_indices(self) -> tuple[int, ...]:
        """Column indices of the numeric features in the matrix."""
        cats = set(self.categorical)
        return tuple(i for i, n in enumerate(self.names) if n not in cats)

    def _check_structure(self) -> None:
        validate_params(
            type(self).__name__,
            {"max_categories": self.max_categories, "min_frequency": self.min_frequency},
            self._parameter_constraints,
        )
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"feature names must be unique; got {list(self.names)}")
        unknown = [c for c in self.categorical if c not in self.names]
        if unknown:
            raise ConfigError(f"categorical feature(s) {unknown} are not among the features")

    def _check_columns(self, frame: pl.DataFrame) -> None:
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise FeatureError(
                f"the feature frame lacks {len(missing)} feature(s) the model needs: "
                f"{', '.join(missing)}; compute them with the model's feature set "
                f"(columns found: {', '.join(frame.columns) or '(none)'})"
            )
        cats = set(self.categorical)
        for name in self.names:
            dtype = frame.schema[name]
            if name in cats:
                continue
            if not (dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null):
                raise FeatureError(
                    f"feature {name!r} must be numeric but has type {dtype}; "
                    "declare it categorical in the feature set or cast it"
                )

    # -- fit / transform --------------------------------------------------------------------
    def fit(self, frame: pl.DataFrame) -> Self:
        """Learn the vocabulary of each categorical feature from the training frame."""
        self._check_structure()
        self._check_columns(frame)
        vocabularies: dict[str, list[str]] = {}
        for name in self.categorical:
            counts = (
                frame.select(pl.col(name).cast(pl.String).alias("v"))
                .drop_nulls()
                .group_by("v")
                .len()
                .filter(pl.col("len") >= self.min_frequency)
                .sort(["len", "v"], descending=[True, False])
                .head(self.max_categories)
            )
            vocabularies[name] = [str(v) for v in counts["v"].to_list()]
        self.vocabularies_ = vocabularies
        return self

    def _fitted(self) -> dict[str, list[str]]:
        vocab: dict[str, list[str]] | None = getattr(self, "vocabularies_", None)
        if vocab is None:
            raise ConfigError("this FeatureEncoder is not fitted yet; call fit(frame) first")
        return vocab

    def transform(self, frame: pl.DataFrame) -> Matrix:
        """The float matrix ``(n_rows, n_features)`` of ``frame``, columns in model order.

        Raises
        ------
        FeatureError
            A feature column is missing or has the wrong type.
        """
        vocab = self._fitted()
        self._check_columns(frame)
        cats = set(self.categorical)
        exprs: list[pl.Expr] = []
        for name in self.names:
            col = pl.col(name)
            if name in cats:
                words = vocab[name]
                coded = col.cast(pl.String).replace_strict(
                    words, list(range(1, len(words) + 1)), default=0, return_dtype=pl.Float64
                )
                exprs.append(pl.when(col.is_null()).then(None).otherwise(coded).alias(name))
            else:
                exprs.append(col.cast(pl.Float64).alias(name))
        if frame.height == 0:
            return np.zeros((0, len(self.names)), dtype=np.float64)
        out = frame.select(exprs).to_numpy()
        return np.ascontiguousarray(out, dtype=np.float64)

    def transform_row(self, row: Mapping[str, Any]) -> Matrix:
        """The ``(1, n_features)`` matrix of one transaction's features given as a mapping.

        Faster than building a one-row frame (one pass over a plan of the columns made on
        first use); ``None`` is a missing value, as in :meth:`transform`.

        Raises
        ------
        FeatureError
            A feature is absent from ``row`` or a numeric feature is not a number (the first
            such feature in model order).
        """
        plan = self._row_plan()
        if type(row) is not dict:
            plan.check(row)  # indexing a mapping may invent an absent feature (defaultdict)
        try:
            values = plan.encode(row)
        except (KeyError, TypeError, ValueError):
            plan.check(row)  # raises the error that names the offending feature
            raise
        return np.array([values], dtype=np.float64)

    def _row_plan(self) -> _RowPlan:
        """The :class:`_RowPlan` of the fitted vocabularies, made once per fit."""
        vocab = self._fitted()
        cached: tuple[dict[str, list[str]], _RowPlan] | None = getattr(self, "_plan", None)
        if cached is not None and cached[0] is vocab:
            return cached[1]
        plan = _RowPlan(self.names, vocab)
        self._plan = (vocab, plan)
        return plan

    def category_name(self, feature: str, code: float) -> str | None:
        """The string behind a code (``None`` for NaN, :data:`OTHER` for 0)."""
        if math.isnan(code):
            return None
        idx = int(code)
        return OTHER if idx == 0 else self._fitted()[feature][idx - 1]

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (names, categorical names, vocabularies, parameters)."""
        return {
            "names": list(self.names),
            "categorical": list(self.categorical),
            "vocabularies": {k: list(v) for k, v in self._fitted().items()},
            "max_categories": self.max_categories,
            "min_frequency": self.min_frequency,
            "other_code": 0,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted encoder from :meth:`to_dict` output.

        Raises
        ------
        BundleError
            The description is incomplete or inconsistent.
        """
        try:
            enc = cls(
                [str(n) for n in data["names"]],
                [str(n) for n in data["categorical"]],
                max_categories=int(data["max_categories"]),
                min_frequency=int(data["min_frequency"]),
            )
            vocab = {str(k): [str(w) for w in v] for k, v in data["vocabularies"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"the feature encoding is incomplete ({exc!r})") from None
        if set(vocab) != set(enc.categorical):
            raise BundleError(
                "the feature encoding lists vocabularies for "
                f"{sorted(vocab)} but categorical features {sorted(enc.categorical)}"
            )
        enc.vocabularies_ = vocab
        return enc


class _RowPlan:
    """How :meth:`FeatureEncoder.transform_row` reads each feature of a mapping.

    Attributes
    ----------
    names:
        Feature names in model order.
    columns:
        ``(name, codes)`` per feature in model order: ``codes`` maps a categorical value, as a
        string, to its code (1..n); ``None`` marks a numeric feature.
    """

    __slots__ = ("columns", "names")

    def __init__(self, names: tuple[str, ...], vocabularies: Mapping[str, Sequence[str]]) -> None:
        self.names = names
        self.columns: tuple[tuple[str, dict[str, float] | None], ...] = tuple(
            (
                name,
                {w: float(i + 1) for i, w in enumerate(vocabularies[name])}
                if name in vocabularies
                else None,
            )
            for name in names
        )

    def encode(self, row: Mapping[str, Any]) -> list[float]:
        """The row's values in model order: NaN for ``None``, codes (0 if unknown), floats.

        Raises
        ------
        KeyError, TypeError, ValueError
            ``row`` lacks a feature or holds a numeric value that is not a number;
            :meth:`check` tells which.
        """
        return [
            math.nan
            if (value := row[name]) is None
            else float(value)
            if codes is None
            else codes.get(str(value), 0.0)
            for name, codes in self.columns
        ]

    def check(self, row: Mapping[str, Any]) -> None:
        """Refuse the first feature (in model order) that is absent or not a number.

        Raises
        ------
        FeatureError
            A feature is absent from ``row`` or a numeric feature is not a number.
        """
        for name, codes in self.columns:
            if name not in row:
                raise FeatureError(
                    f"feature {name!r} is missing from the row; the model needs "
                    f"{', '.join(self.names)}"
                )
            value = row[name]
            if codes is None and value is not None:
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise FeatureError(
                        f"feature {name!r} must be a number; got {value!r}"
                    ) from None
