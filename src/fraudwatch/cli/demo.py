"""``fraudwatch demo``: the whole loop on simulated data and embedded defaults.

Simulate about six weeks of card traffic, validate it, train on the first four weeks, tune
the thresholds to cost on the fourth, register and promote the model, then evaluate and score
the last week, and print what a risk team would look at first.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, settings_from

__all__ = ["demo"]


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _num(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


@command_errors
def demo(
    ctx: typer.Context,
    workdir: Annotated[
        Path, typer.Option(help="Folder for the demo's data, models and reports.")
    ] = Path("demo-output"),
    customers: Annotated[int, typer.Option(min=50, help="Simulated customers.")] = 2000,
    days: Annotated[int, typer.Option(min=29, help="Simulated days (>= 29).")] = 42,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: settings.seed).")] = None,
) -> None:
    """Run the whole loop on simulated data: simulate, validate, train, tune, evaluate, score.

    Example: fraudwatch demo --workdir demo-output --customers 2000 --days 42
    """
    import polars as pl
    from rich.table import Table

    from fraudwatch.cli._data import load_transactions
    from fraudwatch.evaluation import evaluate_scores, write_report
    from fraudwatch.features import compute_batch
    from fraudwatch.io import summarize, write_frame
    from fraudwatch.registry import Registry
    from fraudwatch.scoring import score_frame
    from fraudwatch.simulate import SimulationConfig, simulate
    from fraudwatch.thresholds import tune_thresholds
    from fraudwatch.training import train_bundle

    settings = settings_from(ctx)
    rng_seed = settings.seed if seed is None else seed
    out, err = out_console(), err_console()
    started = time.perf_counter()
    steps: list[tuple[str, float]] = []

    def step(name: str, t0: float) -> None:
        steps.append((name, time.perf_counter() - t0))
        err.print(f"[green]✓[/] {name} ({steps[-1][1]:.1f} s)")

    # 1. simulate and write
    t0 = time.perf_counter()
    start = datetime(2026, 1, 5, tzinfo=UTC)
    sim = simulate(SimulationConfig(customers=customers, days=days, start=start, seed=rng_seed))
    tx_path = write_frame(sim, workdir / "transactions.parquet")
    step(f"simulated {sim.height:,} transactions -> {tx_path}", t0)

    # 2. read back through the validating reader
    t0 = time.perf_counter()
    data = load_transactions(tx_path, quarantine_to=workdir / "transactions.quarantine.csv")
    summary = summarize(data)
    step("validated", t0)

    # 3. split by time: train | tune | test (weeks)
    delay = timedelta(days=settings.label_delay_days)
    t_end = start + timedelta(days=days)
    test_start = t_end - timedelta(days=7)
    tune_start = test_start - timedelta(days=7)
    ts = pl.col("timestamp")
    train_rows = data.filter(ts < tune_start)
    tune_rows = data.filter((ts >= tune_start) & (ts < test_start))
    test_rows = data.filter(ts >= test_start)

    t0 = time.perf_counter()
    bundle = train_bundle(
        train_rows,
        created_at=datetime.now(UTC),
        label_delay=delay,
        seed=rng_seed,
        refit=True,
        name="demo",
    )
    step(f"trained {bundle.model_type} on {train_rows.height:,} rows ({bundle.version})", t0)

    # 4. tune thresholds to cost on the following week (out of sample for the model)
    t0 = time.perf_counter()
    fs = bundle.feature_set
    tune_feats = compute_batch(fs, tune_rows, train_rows)
    tune_score, _ = bundle.score(tune_feats)
    tuned = tune_thresholds(tune_rows.with_columns(pl.Series("score", tune_score)), "cost")
    bundle = bundle.with_thresholds(tuned)
    registry = Registry(str(workdir / "models"))
    version = registry.register(bundle)
    registry.promote(version, "champion", at=datetime.now(UTC))
    step(f"tuned thresholds to cost, registered {version} as champion", t0)

    # 5. evaluate and score the last week, features warmed by everything before it
    t0 = time.perf_counter()
    history = pl.concat([train_rows, tune_rows])
    scored = score_frame(bundle, test_rows, history=history)
    frame = test_rows.with_columns(scored.scores.get_column("score"))
    report = evaluate_scores(frame, bundle.thresholds, delay=delay, history=history)
    paths = write_report(
        report, workdir / "report", title="fraudwatch demo — last week", meta={"model": version}
    )
    scores_path = write_frame(scored.scores, workdir / "scores.parquet")
    step("evaluated and scored the last week", t0)

    # 6. print what matters
    for table in summary.tables():
        out.print(table)
    metrics = Table(title=f"Model {version} on the last week ({test_rows.height:,} transactions)")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    m = report.metrics
    rows: list[tuple[str, str]] = [
        ("ROC AUC", _num(m.get("roc_auc"))),
        ("average precision", _num(m.get("average_precision"))),
        ("card precision@100", _num(m.get("card_precision_at_k"))),
        ("recall at 1% FPR", _pct(m.get("recall_at_fpr"))),
        ("fraud amount caught", _pct(m.get("fraud_amount_caught_share"))),
        ("review threshold", f"{tuned.review:.3g}"),
        ("decline threshold", f"{tuned.decline:.3g}"),
    ]
    rows += [(f"decisions: {k}", f"{v:,}") for k, v in scored.summary["decisions"].items()]
    labels: dict[str, Any] = scored.summary.get("labels") or {}
    rows.append(
        ("frauds flagged", f"{labels.get('frauds_flagged', 0)} of {labels.get('frauds', 0)}")
    )
    for name, value in rows:
        metrics.add_row(name, value)
    out.print(metrics)

    top = Table(title="The ten most suspicious transactions of the last week")
    for col in ("transaction", "card", "amount", "score", "decision", "reasons", "fraud?"):
        top.add_column(col, overflow="fold")
    best = scored.top_k(10).join(
        test_rows.select("transaction_id", "card_id", "amount", "is_fraud"),
        on="transaction_id",
        maintain_order="left",
    )
    for r in best.iter_rows(named=True):
        reasons = "; ".join(x for x in (r["reason_1"], r["reason_2"], r["reason_3"]) if x)
        top.add_row(
            r["transaction_id"], r["card_id"], f"{r['amount']:,.2f}", f"{r['score']:.3f}",
            r["decision"], reasons, "yes" if r["is_fraud"] else "no",
        )  # fmt: skip
    out.print(top)
    out.print(
        f"\nreport: {paths.get('html')}\nscores: {scores_path}\nregistry: {workdir / 'models'}"
        f"\ntotal time: {time.perf_counter() - started:.1f} s"
    )
    out.print(
        "\nServe the demo's model (in another terminal):\n"
        f"  .venv/bin/fraudwatch serve --model champion --registry {workdir / 'models'} "
        "--no-auth --port 8000\n"
        "then score a transaction:\n"
        "  curl -s -X POST http://127.0.0.1:8000/v1/score -H 'Content-Type: application/json' \\\n"
        '    -d \'{"transaction_id": "demo-1", "timestamp": "2026-02-09T12:00:00Z", '
        '"card_id": "card_1", "amount": 950.0, "channel": "ecom"}\''
    )
