"""Prequential validation: folds of train / delay / test days moving back in time, and backtest.

A fold trains on ``train_days`` days, leaves ``delay_days`` days unused (their labels are not
known yet when the model would go live), and tests on the next ``test_days`` days. Fold 0 is
the most recent; fold ``i`` is shifted back by ``i * step_days`` (default ``test_days``). This
is the handbook's protocol (chapter 5, ``prequentialSplit``); :func:`handbook_folds` builds its
exact folds.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.evaluation._report import METRIC_NAMES, EvaluationReport, evaluate_scores
from fraudwatch.evaluation._topk import remove_known_compromised
from fraudwatch.thresholds import CostModel, Thresholds
from fraudwatch.thresholds._checks import Interval, check_choice, check_interval
from fraudwatch.thresholds._inputs import require_columns

__all__ = [
    "BacktestResult",
    "Fold",
    "FoldModel",
    "FoldResult",
    "TrainFn",
    "Window",
    "backtest",
    "folds_for_data",
    "handbook_folds",
    "prequential_folds",
]

log = logging.getLogger(__name__)

ScoreFn = Callable[[pl.DataFrame], npt.ArrayLike]


@dataclass(frozen=True)
class Window:
    """Calendar days ``start <= day < end`` (``end`` exclusive).

    >>> w = Window(date(2018, 7, 25), date(2018, 8, 1))
    >>> (w.days, str(w))
    (7, '2018-07-25..2018-07-31')
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ConfigError(f"window end {self.end} is before its start {self.start}")

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.end - self.start).days

    def __str__(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start.isoformat()}..{last.isoformat()}"

    def select(self, frame: pl.DataFrame, time_col: str = "timestamp") -> pl.DataFrame:
        """The rows of ``frame`` whose day (in the column's time zone) lies in the window."""
        day = pl.col(time_col).dt.date()
        return frame.filter((day >= self.start) & (day < self.end))

    def to_dict(self) -> dict[str, str]:
        """``{"start": ..., "end": ...}`` (ISO dates, ``end`` exclusive)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Fold:
    """One prequential fold: training, label-delay and test windows (consecutive)."""

    index: int
    train: Window
    delay: Window
    test: Window

    @property
    def history(self) -> Window:
        """Training and delay windows together: the labelled past known at test time."""
        return Window(self.train.start, self.test.start)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "index": self.index,
            "train": self.train.to_dict(),
            "delay": self.delay.to_dict(),
            "test": self.test.to_dict(),
        }

    def __str__(self) -> str:
        return f"fold {self.index}: train {self.train}, delay {self.delay}, test {self.test}"


def prequential_folds(
    anchor: date,
    n_folds: int = 4,
    train_days: int = 7,
    delay_days: int = 7,
    test_days: int = 7,
    step_days: int | None = None,
    *,
    anchor_is: Literal["train_start", "test_end"] = "train_start",
) -> list[Fold]:
    """Folds of train / delay / test windows, the most recent first, moving back in time.

    Parameters
    ----------
    anchor:
        The training start of fold 0 (``anchor_is="train_start"``, as the handbook's
        ``start_date_training``) or the day after fold 0's test window (``"test_end"``).
    n_folds:
        Number of folds.
    train_days, delay_days, test_days:
        Window lengths in days (``delay_days`` may be 0).
    step_days:
        How far each fold moves back; default ``test_days`` (test windows tile).
    anchor_is:
        Meaning of ``anchor``.

    Examples
    --------
    >>> [str(f.test) for f in prequential_folds(date(2018, 8, 15), n_folds=2)]
    ['2018-08-29..2018-09-04', '2018-08-22..2018-08-28']
    """
    check_interval("n_folds", n_folds, Interval(1, None, integer=True))
    check_interval("train_days", train_days, Interval(1, None, integer=True))
    check_interval("delay_days", delay_days, Interval(0, None, integer=True))
    check_interval("test_days", test_days, Interval(1, None, integer=True))
    step = test_days if step_days is None else step_days
    check_interval("step_days", step, Interval(1, None, integer=True))
    check_choice("anchor_is", anchor_is, ("train_start", "test_end"))
    first_train = (
        anchor
        if anchor_is == "train_start"
        else anchor - timedelta(days=train_days + delay_days + test_days)
    )
    folds = []
    for i in range(n_folds):
        t0 = first_train - timedelta(days=i * step)
        d0 = t0 + timedelta(days=train_days)
        s0 = d0 + timedelta(days=delay_days)
        folds.append(
            Fold(
                index=i,
                train=Window(t0, d0),
                delay=Window(d0, s0),
                test=Window(s0, s0 + timedelta(days=test_days)),
            )
        )
    return folds


def handbook_folds(kind: Literal["test", "validation"] = "test") -> list[Fold]:
    """The handbook's protocol B folds (7 days train, 7 delay, 7 test, 4 folds).

    ``test``: training weeks starting 2018-07-25, 08-01, 08-08, 08-15 (test weeks cover
    2018-08-08..2018-09-04). ``validation``: training weeks starting 2018-06-20, 06-27,
    07-04, 07-11 — the only folds on which hyper-parameters may be chosen.

    >>> sorted(str(f.train.start) for f in handbook_folds("validation"))
    ['2018-06-20', '2018-06-27', '2018-07-04', '2018-07-11']
    """
    check_choice("kind", kind, ("test", "validation"))
    anchor = date(2018, 8, 15) if kind == "test" else date(2018, 7, 11)
    return prequential_folds(anchor, n_folds=4, train_days=7, delay_days=7, test_days=7)


def folds_for_data(
    data: pl.DataFrame,
    n_folds: int = 4,
    train_days: int = 7,
    delay_days: int = 7,
    test_days: int = 7,
    step_days: int | None = None,
    *,
    time_col: str = "timestamp",
) -> list[Fold]:
    """Folds whose most recent test window ends with the last day of ``data``.

    Raises
    ------
    ConfigError
        The data does not cover the oldest fold's training window.
    """
    require_columns(data, [time_col], purpose="prequential folds")
    if data.height == 0:
        raise ConfigError("no transactions to build folds from; check the --data path")
    days = data.get_column(time_col).dt.date()
    first, last = days.min(), days.max()
    assert isinstance(first, date)
    assert isinstance(last, date)
    folds = prequential_folds(
        last + timedelta(days=1),
        n_folds,
        train_days,
        delay_days,
        test_days,
        step_days,
        anchor_is="test_end",
    )
    oldest = folds[-1].train.start
    if oldest < first:
        span = (last - first).days + 1
        need = (folds[0].test.end - oldest).days
        raise ConfigError(
            f"the data covers {span} days ({first}..{last}) but {n_folds} folds of "
            f"{train_days} train + {delay_days} delay + {test_days} test days need {need}; "
            "use fewer --folds or shorter windows"
        )
    return folds


@dataclass(frozen=True)
class FoldModel:
    """What a training function returns: a scorer, and optionally its thresholds."""

    score: ScoreFn
    thresholds: Thresholds | None = None


TrainFn = Callable[[pl.DataFrame, Fold], "FoldModel | ScoreFn"]
"""``train(train_rows, fold) -> FoldModel`` (or a bare scoring function)."""


@dataclass(frozen=True)
class FoldResult:
    """The evaluation of one fold."""

    fold: Fold
    report: EvaluationReport
    n_train: int
    n_train_fraud: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (metrics and notes, not the full report)."""
        return {
            **self.fold.to_dict(),
            "n_train": self.n_train,
            "n_train_fraud": self.n_train_fraud,
            "n_test": self.report.data["n_transactions"],
            "n_test_fraud": self.report.data["n_fraud"],
            "metrics": self.report.to_dict()["metrics"],
            "notes": dict(self.report.notes),
            "thresholds": self.report.thresholds.to_dict(),
        }


def _summary(folds: Sequence[FoldResult]) -> pl.DataFrame:
    rows = []
    for name in METRIC_NAMES:
        values = [f.report.metrics.get(name) for f in folds]
        defined = np.array([v for v in values if v is not None], dtype=np.float64)
        rows.append(
            {
                "metric": name,
                "mean": float(defined.mean()) if defined.size else None,
                # population std (ddof=0), as scikit-learn's cv_results_ used by the handbook
                "std": float(defined.std()) if defined.size else None,
                "n_folds": int(defined.size),
            }
        )
    return pl.DataFrame(
        rows,
        schema={"metric": pl.String, "mean": pl.Float64, "std": pl.Float64, "n_folds": pl.Int64},
        orient="row",
    )


@dataclass(frozen=True)
class BacktestResult:
    """Per-fold reports and the mean and standard deviation of every metric over folds."""

    folds: list[FoldResult]
    summary: pl.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str) -> float | None:
        """Mean of ``metric`` over the folds where it is defined."""
        return self._get(metric, "mean")

    def std(self, metric: str) -> float | None:
        """Population standard deviation of ``metric`` over folds."""
        return self._get(metric, "std")

    def _get(self, metric: str, column: str) -> float | None:
        check_choice("metric", metric, METRIC_NAMES)
        value = self.summary.filter(pl.col("metric") == metric).get_column(column).item()
        return None if value is None or not math.isfinite(value) else float(value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: parameters, summary and folds."""
        return {
            "params": dict(self.params),
            "summary": self.summary.to_dicts(),
            "folds": [f.to_dict() for f in self.folds],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def backtest(
    data: pl.DataFrame,
    folds: Sequence[Fold],
    train: TrainFn,
    *,
    k: int = 100,
    drop_known_compromised: bool = True,
    thresholds: Thresholds | None = None,
    cost_model: CostModel | None = None,
    on_fold: Callable[[FoldResult], None] | None = None,
    score_col: str = "score",
) -> BacktestResult:
    """Prequential backtest: train on each fold's training window, score and evaluate its test.

    For each fold: the training rows are passed to ``train``; the test rows of cards already
    known compromised (a fraud before ``day - delay_days`` since the start of the training
    window) are dropped, as in the handbook; the model scores the rest, which are evaluated
    with :func:`evaluate_scores` (``delay`` = the fold's delay, ``history`` = training and delay
    windows). Metrics are then averaged over folds.

    Parameters
    ----------
    data:
        Labelled transactions (with any feature columns the model needs).
    folds:
        From :func:`prequential_folds`, :func:`folds_for_data` or :func:`handbook_folds`.
    train:
        ``train(train_rows, fold)`` returning a :class:`FoldModel` or a scoring function
        ``score(rows) -> scores`` (higher = more suspicious).
    k:
        For precision@k and CP@k.
    drop_known_compromised:
        Drop known-compromised cards from the test windows (the handbook does).
    thresholds:
        Thresholds for threshold metrics when the fold model has none; default rule otherwise.
    cost_model:
        Costs for the cost metrics.
    on_fold:
        Called with each fold's result as it finishes (progress).
    score_col:
        Name given to the scores in the evaluated frames.

    Raises
    ------
    ConfigError
        A fold has no training or test rows (the message names the fold's windows).
    """
    require_columns(data, ["timestamp", "is_fraud"], purpose="backtest")
    if not folds:
        raise ConfigError("backtest needs at least one fold; pass n_folds >= 1")
    results: list[FoldResult] = []
    for fold in folds:
        train_rows = fold.train.select(data)
        test_rows = fold.test.select(data)
        if train_rows.height == 0 or test_rows.height == 0:
            which = "training" if train_rows.height == 0 else "test"
            raise ConfigError(
                f"{fold}: the {which} window has no transactions; the data must cover every "
                "fold (use fewer folds or check the dates)"
            )
        history = fold.history.select(data)
        delay = timedelta(days=fold.delay.days)
        if drop_known_compromised and "card_id" in data.columns:
            test_rows = remove_known_compromised(test_rows, delay=delay, history=history)
        model = train(train_rows, fold)
        fold_model = model if isinstance(model, FoldModel) else FoldModel(score=model)
        scores = np.asarray(fold_model.score(test_rows), dtype=np.float64).ravel()
        if scores.size != test_rows.height:
            raise ConfigError(
                f"{fold}: the model returned {scores.size} scores for {test_rows.height} test "
                "transactions; it must score every row"
            )
        scored = test_rows.with_columns(pl.Series(score_col, scores))
        report = evaluate_scores(
            scored,
            fold_model.thresholds or thresholds,
            k,
            delay,
            history=history if "card_id" in data.columns else None,
            cost_model=cost_model,
            score_col=score_col,
        )
        result = FoldResult(
            fold=fold,
            report=report,
            n_train=train_rows.height,
            n_train_fraud=int(train_rows.get_column("is_fraud").cast(pl.Int64).sum()),
        )
        log.info("backtest fold done", extra={"fold": fold.index, "test": str(fold.test)})
        results.append(result)
        if on_fold is not None:
            on_fold(result)
    params = {
        "k": k,
        "n_folds": len(folds),
        "train_days": folds[0].train.days,
        "delay_days": folds[0].delay.days,
        "test_days": folds[0].test.days,
        "drop_known_compromised": drop_known_compromised,
    }
    return BacktestResult(folds=results, summary=_summary(results), params=params)
