"""``fraudwatch evaluate`` and ``fraudwatch backtest``: measure a model on labelled data.

``evaluate`` scores a labelled file with a model bundle and writes ``evaluation.json`` and a
self-contained ``report.html``; ``backtest`` trains and tests a model on prequential folds
and reports the mean and standard deviation of every metric. Shared helpers (resolving a
model reference, reading data, scoring it) are used by ``fraudwatch tune`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, settings_from
from fraudwatch.errors import ConfigError, MissingColumnsError

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from fraudwatch.config import Settings
    from fraudwatch.evaluation import BacktestResult, EvaluationReport
    from fraudwatch.registry import Bundle, Registry

__all__ = [
    "ModelRef",
    "backtest",
    "evaluate",
    "labelled_rows",
    "print_metrics",
    "read_data",
    "resolve_model",
    "score_transactions",
]

_PROFILE_HELP = "Layout of the files: native, handbook, ulb, or a mapping .yaml file."


@dataclass(frozen=True)
class ModelRef:
    """Where a bundle came from: a folder / URI, or a registry version."""

    bundle: Bundle
    path: str | None = None
    registry: Registry | None = None

    @property
    def label(self) -> str:
        """``<version> (<where>)`` for messages and report headers."""
        where = self.path if self.path is not None else f"registry {self.registry.root}"  # type: ignore[union-attr]
        return f"{self.bundle.version} ({where})"


def resolve_model(ref: str, settings: Settings) -> ModelRef:
    """Load a bundle from a folder or ``s3://`` URI, else from the registry (version or alias).

    Raises
    ------
    BundleError, NotFoundError
        The bundle is missing, tampered with, or the registry has no such version or alias.
    """
    from fraudwatch.registry import Registry
    from fraudwatch.scoring import resolve_bundle

    bundle = resolve_bundle(ref, settings.registry)
    if ref.startswith("s3://") or Path(ref).is_dir():
        return ModelRef(bundle=bundle, path=ref)
    return ModelRef(bundle=bundle, registry=Registry(settings.registry))


def _profile(profile: str) -> str | Path:
    return Path(profile) if profile.lower().endswith((".yaml", ".yml")) else profile


def read_data(
    path: str,
    *,
    profile: str,
    quarantine: Path | None,
    passthrough: list[str] | tuple[str, ...] = (),
) -> pl.DataFrame:
    """Read a transaction file with the shared reader (reports rejected rows on stderr)."""
    from fraudwatch.cli._data import load_transactions

    return load_transactions(
        path,
        profile=_profile(profile),
        quarantine_to=quarantine,
        console=err_console(),
        passthrough=passthrough,
    )


def labelled_rows(data: pl.DataFrame, console: Console, *, what: str) -> pl.DataFrame:
    """The rows with a label; unlabelled rows are announced, a file without labels refused."""
    import polars as pl

    if "is_fraud" not in data.columns:
        raise MissingColumnsError(
            ["is_fraud"],
            data.columns,
            source="the data",
            hint=f"{what} needs labelled transactions (is_fraud 0/1)",
        )
    unlabelled = int(data.get_column("is_fraud").null_count())
    if unlabelled:
        console.print(
            f"[yellow]{unlabelled:,} row(s) have no label: they feed the features but are not "
            f"used by {what}.[/]"
        )
    out = data.filter(pl.col("is_fraud").is_not_null())
    if out.height == 0:
        raise ConfigError(f"the data holds no labelled rows; {what} needs is_fraud 0/1")
    return out


def score_transactions(
    bundle: Bundle, data: pl.DataFrame, history: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``data`` with ``score`` (fraud probability) and ``anomaly_score`` columns."""
    import polars as pl

    from fraudwatch.features import compute_batch

    features = compute_batch(bundle.feature_set, data, history)
    score, anomaly = bundle.score(features)
    return data.with_columns(pl.Series("score", score), pl.Series("anomaly_score", anomaly))


def print_metrics(report: EvaluationReport, console: Console, *, title: str) -> None:
    """A table of the headline metrics (with the reason for undefined ones)."""
    from rich.table import Table

    from fraudwatch.evaluation import METRIC_LABELS, METRIC_NAMES, format_metric

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("note", style="dim")
    for name in METRIC_NAMES:
        value = report.metrics.get(name)
        label = METRIC_LABELS[name][0]
        if name.endswith("_at_k"):
            label += f" (k={report.params['k']})"
        if name == "recall_at_fpr":
            label += f" ({100 * report.params['max_fpr']:g}%)"
        table.add_row(label, format_metric(name, value), report.notes.get(name, ""))
    console.print(table)


def _print_scenarios(report: EvaluationReport, console: Console) -> None:
    from rich.table import Table

    if report.per_scenario.height == 0:
        return
    table = Table(title="Recall per fraud scenario (at the thresholds)")
    for col, justify in (("scenario", "left"), ("frauds", "right"), ("caught", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    table.add_column("declined", justify="right")
    for row in report.per_scenario.iter_rows(named=True):
        table.add_row(
            row["scenario"],
            f"{row['n_fraud']:,}",
            f"{row['recall']:.1%}",
            f"{row['decline_recall']:.1%}",
        )
    console.print(table)


@command_errors
def evaluate(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option("--model", "-m", help="Model bundle folder, or a registry version or alias."),
    ],
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled transactions (file or s3:// URI).")
    ],
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Earlier transactions: warm the features and mark cards already known "
            "compromised for card precision@k.",
        ),
    ] = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help=_PROFILE_HELP)] = "native",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for evaluation.json and report.html.")
    ] = Path("evaluation"),
    k: Annotated[int, typer.Option("--k", help="Alerts (transactions, cards) per day.")] = 100,
    delay_days: Annotated[
        float | None,
        typer.Option(
            "--delay-days", help="Label delay in days (default: label_delay_days setting)."
        ),
    ] = None,
    max_fpr: Annotated[
        float, typer.Option("--max-fpr", help="False-positive rate for 'recall at FPR'.")
    ] = 0.01,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write the HTML report.")] = True,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Write rejected rows to this CSV file.")
    ] = None,
) -> None:
    """Score labelled data with a model and report ROC AUC, AP, card precision@k, cost...

    Writes evaluation.json and a self-contained report.html (plots: PR and ROC curves, score
    distributions, cost vs threshold, per-day precision@k) into --out, and prints the
    metrics. Thresholds come from the model bundle.

    Example: fraudwatch evaluate --model champion --data september.parquet --out eval-sept
    """
    from fraudwatch.evaluation import evaluate_scores, write_report

    settings = settings_from(ctx)
    console = out_console()
    ref = resolve_model(model, settings)
    passthrough = list(ref.bundle.training.get("passthrough") or [])
    frame = read_data(data, profile=profile, quarantine=quarantine, passthrough=passthrough)
    past = (
        read_data(history, profile=profile, quarantine=None, passthrough=passthrough)
        if history
        else None
    )
    scored = labelled_rows(
        score_transactions(ref.bundle, frame, past), err_console(), what="evaluation"
    )
    delay = timedelta(days=settings.label_delay_days if delay_days is None else delay_days)
    labelled_past = (
        past.filter(past["is_fraud"].is_not_null())
        if past is not None and "is_fraud" in past.columns
        else None
    )
    report = evaluate_scores(
        scored,
        ref.bundle.thresholds,
        k,
        delay,
        history=labelled_past,
        max_fpr=max_fpr,
    )
    meta = {
        "model": ref.label,
        "model type": ref.bundle.model_type,
        "data": data,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    paths = write_report(
        report, out, title=f"Evaluation of {ref.bundle.version}", meta=meta, html=html
    )
    print_metrics(report, console, title=f"Model {ref.bundle.version} on {data}")
    _print_scenarios(report, console)
    t = report.thresholds
    console.print(
        f"Thresholds ({report.thresholds_source}, objective {t.objective}): "
        f"review >= {t.review:.6g}, decline >= {t.decline:.6g}"
    )
    for kind, path in paths.items():
        console.print(f"{kind.upper()} written to [bold]{path}[/]")


def _train_fn(
    data: pl.DataFrame,
    *,
    model: str,
    settings: Settings,
    profile: str,
    created_at: datetime,
    num_threads: int | None,
) -> Any:
    """The training callable of the backtest: ``train_bundle`` on the fold's training rows."""
    import polars as pl

    from fraudwatch.evaluation import Fold, FoldModel
    from fraudwatch.training import train_bundle

    def before(day: Any) -> pl.DataFrame:
        return data.filter(pl.col("timestamp").dt.date() < day)

    def train(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        bundle = train_bundle(
            rows,
            created_at=created_at,
            history=before(fold.train.start),
            model=model,
            label_delay=timedelta(days=fold.delay.days),
            seed=settings.seed,
            profile=profile,
            anomaly=False,
            num_threads=num_threads,
        )
        past = before(fold.test.start)

        def score(test_rows: pl.DataFrame) -> Any:
            return score_transactions(bundle, test_rows, past).get_column("score").to_numpy()

        return FoldModel(score=score, thresholds=bundle.thresholds)

    return train


def _print_backtest(result: BacktestResult, console: Console) -> None:
    from rich.table import Table

    from fraudwatch.evaluation import METRIC_LABELS, format_metric

    folds = Table(title="Folds (most recent first)")
    for col in ("fold", "train", "test", "test rows", "frauds", "ROC AUC", "AP", "CP@k"):
        if col in ("train", "test"):
            folds.add_column(col, overflow="fold", min_width=12)
        else:
            folds.add_column(col, justify="right")
    for f in result.folds:
        m = f.report.metrics
        folds.add_row(
            str(f.fold.index),
            str(f.fold.train),
            str(f.fold.test),
            f"{f.report.data['n_transactions']:,}",
            f"{f.report.data['n_fraud']:,}",
            format_metric("roc_auc", m["roc_auc"]),
            format_metric("average_precision", m["average_precision"]),
            format_metric("card_precision_at_k", m["card_precision_at_k"]),
        )
    console.print(folds)
    summary = Table(title=f"Mean ± std over {len(result.folds)} folds")
    summary.add_column("metric")
    summary.add_column("mean ± std", justify="right")
    summary.add_column("folds", justify="right")
    for row in result.summary.iter_rows(named=True):
        name = row["metric"]
        if row["mean"] is None:
            text = "n/a"
        else:
            std = row["std"]
            text = f"{format_metric(name, row['mean'])} ± {format_metric(name, std)}"
        summary.add_row(METRIC_LABELS[name][0], text, str(row["n_folds"]))
    console.print(summary)


@command_errors
def backtest(
    ctx: typer.Context,
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled transactions (file or s3:// URI).")
    ],
    profile: Annotated[str, typer.Option("--profile", "-p", help=_PROFILE_HELP)] = "native",
    folds: Annotated[int, typer.Option("--folds", help="Number of folds.")] = 4,
    train_days: Annotated[int, typer.Option("--train-days", help="Training days per fold.")] = 7,
    delay_days: Annotated[
        int, typer.Option("--delay-days", help="Label-delay days between train and test.")
    ] = 7,
    test_days: Annotated[int, typer.Option("--test-days", help="Test days per fold.")] = 7,
    step_days: Annotated[
        int | None,
        typer.Option("--step-days", help="Days between folds (default: --test-days)."),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="'data-end': the last fold ends with the data; 'handbook' / "
            "'handbook-validation': the handbook's protocol B test / validation folds.",
        ),
    ] = "data-end",
    model: Annotated[
        str, typer.Option("--model", "-m", help="lightgbm, xgboost or logreg.")
    ] = "lightgbm",
    k: Annotated[int, typer.Option("--k", help="Alerts (transactions, cards) per day.")] = 100,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for backtest.json.")] = Path(
        "backtest"
    ),
    threads: Annotated[
        int | None, typer.Option("--threads", help="Training threads (default: all cores).")
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Write rejected rows to this CSV file.")
    ] = None,
) -> None:
    """Prequential backtest: train / delay / test folds moving back in time, mean ± std.

    Each fold trains a model on --train-days days, skips --delay-days days (labels not yet
    known), and tests on the next --test-days days; cards already known compromised are
    left out of the test, as in the handbook. Writes backtest.json into --out.

    Example: fraudwatch backtest --data tx.parquet --folds 4 --train-days 7 --delay-days 7
    """
    from fraudwatch.cli._common import progress
    from fraudwatch.evaluation import FoldResult, folds_for_data, handbook_folds
    from fraudwatch.evaluation import backtest as run_backtest
    from fraudwatch.thresholds._checks import check_choice

    check_choice("--protocol", protocol, ("data-end", "handbook", "handbook-validation"))
    settings = settings_from(ctx)
    console = out_console()
    frame = read_data(data, profile=profile, quarantine=quarantine)
    labelled = labelled_rows(frame, err_console(), what="the backtest")
    if protocol == "data-end":
        chosen = folds_for_data(labelled, folds, train_days, delay_days, test_days, step_days)
    else:
        chosen = handbook_folds("test" if protocol == "handbook" else "validation")
    train = _train_fn(
        labelled,
        model=model,
        settings=settings,
        profile=profile,
        created_at=datetime.now(UTC),
        num_threads=threads,
    )
    with progress("backtest", total=len(chosen)) as advance:

        def done(result: FoldResult) -> None:
            advance(1, description=f"fold {result.fold.index} done")

        result = run_backtest(labelled, chosen, train, k=k, on_fold=done)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "backtest.json"
    payload = result.to_dict()
    payload["params"] |= {"data": data, "model": model, "protocol": protocol}
    import json

    path.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")
    _print_backtest(result, console)
    console.print(f"JSON written to [bold]{path}[/]")
