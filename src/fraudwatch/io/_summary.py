"""A data summary: rows, time span, entities, fraud rate, amount distribution.

:func:`summarize` summarises one frame; :class:`SummaryBuilder` accumulates batches, keeping
only what the summary needs (distinct entity ids and the amounts for exact quantiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["AMOUNT_QUANTILES", "DataSummary", "ScenarioStat", "SummaryBuilder", "summarize"]

AMOUNT_QUANTILES: tuple[tuple[str, float], ...] = (
    ("p1", 0.01),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p99", 0.99),
)
"""Amount quantiles reported (linear interpolation), plus ``max``."""

_ENTITIES = (
    ("cards", "card_id"),
    ("customers", "customer_id"),
    ("merchants", "merchant_id"),
    ("terminals", "terminal_id"),
)


@dataclass(frozen=True)
class ScenarioStat:
    """Rows of one ``fraud_scenario`` value."""

    scenario: str
    rows: int
    frauds: int
    share: float
    """Share of all labelled rows."""


@dataclass(frozen=True)
class DataSummary:
    """What a set of transactions looks like.

    Entity counts are None when the column is absent; label figures are None without
    ``is_fraud``; the fraud rate counts labelled rows only.
    """

    rows: int
    start: datetime | None
    end: datetime | None
    cards: int | None
    customers: int | None
    merchants: int | None
    terminals: int | None
    labelled: int
    frauds: int | None
    fraud_rate: float | None
    scenarios: tuple[ScenarioStat, ...]
    amount: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO-8601 with zone).

        >>> summarize(pl.DataFrame({"amount": [1.0, 3.0]})).to_dict()["amount"]["max"]
        3.0
        """
        return {
            "rows": self.rows,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "cards": self.cards,
            "customers": self.customers,
            "merchants": self.merchants,
            "terminals": self.terminals,
            "labelled": self.labelled,
            "frauds": self.frauds,
            "fraud_rate": self.fraud_rate,
            "scenarios": [
                {"scenario": s.scenario, "rows": s.rows, "frauds": s.frauds, "share": s.share}
                for s in self.scenarios
            ],
            "amount": dict(self.amount),
        }

    def tables(self) -> list[Table]:
        """Render as rich tables: overview, fraud by scenario (if labelled), amounts."""
        from rich.table import Table

        overview = Table(title="Data summary", show_header=False)
        overview.add_column("what", style="bold")
        overview.add_column("value", justify="right")
        overview.add_row("rows", f"{self.rows:,}")
        if self.start is not None and self.end is not None:
            overview.add_row("first transaction", self.start.strftime("%Y-%m-%d %H:%M:%S %Z"))
            overview.add_row("last transaction", self.end.strftime("%Y-%m-%d %H:%M:%S %Z"))
            overview.add_row("time span", _span(self.end - self.start))
        for label, _ in _ENTITIES:
            value = getattr(self, label)
            if value is not None:
                overview.add_row(label, f"{value:,}")
        if self.frauds is not None and self.fraud_rate is not None:
            overview.add_row("labelled rows", f"{self.labelled:,}")
            overview.add_row("frauds", f"{self.frauds:,}")
            overview.add_row("fraud rate", f"{self.fraud_rate:.3%}")
        out = [overview]
        if self.scenarios:
            by = Table(title="Fraud by scenario")
            by.add_column("scenario")
            by.add_column("rows", justify="right")
            by.add_column("frauds", justify="right")
            by.add_column("share of rows", justify="right")
            for s in self.scenarios:
                by.add_row(s.scenario, f"{s.rows:,}", f"{s.frauds:,}", f"{s.share:.3%}")
            out.append(by)
        if self.amount:
            amounts = Table(title="Amount")
            for name in self.amount:
                amounts.add_column(name, justify="right")
            amounts.add_row(*(f"{v:,.2f}" for v in self.amount.values()))
            out.append(amounts)
        return out


def _span(delta: Any) -> str:
    days = delta.days
    hours = delta.seconds // 3600
    return f"{days:,} days {hours} h" if days else f"{hours} h {delta.seconds // 60 % 60} min"


class SummaryBuilder:
    """Accumulate a :class:`DataSummary` over batches of one input.

    Examples
    --------
    >>> b = SummaryBuilder()
    >>> b.update(pl.DataFrame({"card_id": ["a", "b"], "amount": [1.0, 2.0]}))
    >>> b.update(pl.DataFrame({"card_id": ["a"], "amount": [3.0]}))
    >>> s = b.result()
    >>> s.rows, s.cards, s.amount["max"]
    (3, 2, 3.0)
    """

    def __init__(self) -> None:
        self._rows = 0
        self._start: datetime | None = None
        self._end: datetime | None = None
        self._ids: dict[str, pl.Series] = {}
        self._amounts: list[pl.Series] = []
        self._labelled = 0
        self._frauds: int | None = None
        self._scenarios: pl.DataFrame | None = None

    def update(self, df: pl.DataFrame) -> None:
        """Add one batch of canonical transactions."""
        self._rows += df.height
        if "timestamp" in df.columns and df.height:
            lo, hi = df["timestamp"].min(), df["timestamp"].max()
            if isinstance(lo, datetime) and (self._start is None or lo < self._start):
                self._start = lo
            if isinstance(hi, datetime) and (self._end is None or hi > self._end):
                self._end = hi
        for _, col in _ENTITIES:
            if col in df.columns:
                seen = self._ids.get(col)
                fresh = df[col].drop_nulls().unique()
                self._ids[col] = fresh if seen is None else pl.concat([seen, fresh]).unique()
        if "amount" in df.columns:
            self._amounts.append(df["amount"].drop_nulls())
        if "is_fraud" in df.columns:
            labels = df["is_fraud"].drop_nulls()
            self._labelled += labels.len()
            self._frauds = (self._frauds or 0) + int(labels.cast(pl.Int64).sum())
            if "fraud_scenario" in df.columns:
                counts = (
                    df.filter(pl.col("is_fraud").is_not_null())
                    .group_by(pl.col("fraud_scenario").fill_null("(none)"))
                    .agg(
                        pl.len().alias("rows"),
                        pl.col("is_fraud").cast(pl.Int64).sum().alias("frauds"),
                    )
                )
                if self._scenarios is None:
                    self._scenarios = counts
                else:
                    self._scenarios = (
                        pl.concat([self._scenarios, counts])
                        .group_by("fraud_scenario")
                        .agg(pl.col("rows").sum(), pl.col("frauds").sum())
                    )

    def result(self) -> DataSummary:
        """The summary of every batch added so far."""
        amount: dict[str, float] = {}
        if self._amounts:
            values = pl.concat(self._amounts)
            if values.len():
                qs = values.quantile([q for _, q in AMOUNT_QUANTILES], interpolation="linear")
                assert isinstance(qs, list)
                for (name, _), value in zip(AMOUNT_QUANTILES, qs, strict=True):
                    amount[name] = float(value if value is not None else 0.0)
                amount["max"] = float(values.max() or 0.0)  # type: ignore[arg-type]
        scenarios: tuple[ScenarioStat, ...] = ()
        if self._scenarios is not None and self._labelled:
            rows = self._scenarios.sort(
                ["rows", "fraud_scenario"], descending=[True, False]
            ).iter_rows(named=True)
            scenarios = tuple(
                ScenarioStat(
                    scenario=str(r["fraud_scenario"]),
                    rows=int(r["rows"]),
                    frauds=int(r["frauds"]),
                    share=int(r["rows"]) / self._labelled,
                )
                for r in rows
            )
        counts = {col: int(s.len()) for col, s in self._ids.items()}
        return DataSummary(
            rows=self._rows,
            start=self._start,
            end=self._end,
            cards=counts.get("card_id"),
            customers=counts.get("customer_id"),
            merchants=counts.get("merchant_id"),
            terminals=counts.get("terminal_id"),
            labelled=self._labelled,
            frauds=self._frauds,
            fraud_rate=(self._frauds / self._labelled)
            if self._frauds is not None and self._labelled
            else None,
            scenarios=scenarios,
            amount=amount,
        )


def summarize(df: pl.DataFrame) -> DataSummary:
    """Summarise a frame of canonical transactions.

    Examples
    --------
    >>> df = pl.DataFrame({"card_id": ["a", "a", "b"], "is_fraud": [0, 1, 0]})
    >>> s = summarize(df)
    >>> s.cards, s.frauds, round(s.fraud_rate, 3)
    (2, 1, 0.333)
    """
    builder = SummaryBuilder()
    builder.update(df)
    return builder.result()
