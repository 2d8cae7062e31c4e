"""``fraudwatch train``: compute features, split by time, train, write a model bundle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, progress, settings_from
from fraudwatch.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from fraudwatch.registry import Bundle

__all__ = ["train"]


def _profile(profile: str) -> str | Path:
    return Path(profile) if profile.lower().endswith((".yaml", ".yml")) else profile


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _when(iso: str | None) -> str:
    """``2024-01-01T00:39:41.52+00:00`` -> ``2024-01-01 00:39 UTC``."""
    if not iso:
        return "?"
    from datetime import datetime

    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"--out {out} exists and is not empty; choose a new folder for the bundle"
        )


def print_summary(bundle: Bundle, path: Path | None, console: Console, seconds: float) -> None:
    """Print the split used, the validation metrics, the thresholds and where it went."""
    from rich.table import Table

    t = bundle.training
    split = t["split"]
    table = Table(title=f"Trained {bundle.model_type} model {bundle.version}", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row(
        "data",
        f"{t['rows']:,} rows, {t['frauds']:,} frauds "
        f"({_when(t['window']['start'])} to {_when(t['window']['end'])})",
    )
    if t.get("history_rows"):
        table.add_row("history (state only)", f"{t['history_rows']:,} rows")
    table.add_row("features", f"{len(bundle.feature_names)} (set hash {bundle.feature_hash[:12]})")
    table.add_section()
    table.add_row("split", split["policy"])
    table.add_row(
        "train",
        f"{split['train']['rows']:,} rows, {_when(split['train']['start'])} to "
        f"{_when(split['train']['end'])}",
    )
    gap = split["gap"]
    table.add_row(
        "gap (label delay)",
        f"{gap['rows']:,} rows, {gap['label_delay_days']:g} day(s)"
        if split["policy"] == "standard"
        else "none (span too short, see below)",
    )
    table.add_row(
        "validation",
        f"{split['validation']['rows']:,} rows, {_when(split['validation']['start'])} to "
        f"{_when(split['validation']['end'])}",
    )
    table.add_row("refit on all rows", "yes" if t.get("refit") else "no")
    table.add_row("why", split["reason"])
    table.add_section()
    m = bundle.metrics
    table.add_row("average precision", _fmt(m.get("average_precision")))
    table.add_row("ROC AUC", _fmt(m.get("roc_auc")))
    table.add_row("card precision@100", _fmt(m.get("card_precision_at_100")))
    table.add_row("anomaly ROC AUC", _fmt(m.get("anomaly_roc_auc")))
    table.add_row(
        "boosting rounds" if bundle.model_type != "logreg" else "iterations",
        _fmt(m.get("n_iterations")),
    )
    thresholds = bundle.thresholds
    if thresholds is not None:
        table.add_row(
            "thresholds", f"review >= {thresholds.review:.6g}, decline >= {thresholds.decline:.6g}"
        )
    table.add_section()
    table.add_row("bundle", str(path) if path is not None else "(not saved)")
    table.add_row("time", f"{seconds:.1f} s")
    console.print(table)


@command_errors
def train(
    ctx: typer.Context,
    data: Annotated[
        str, typer.Option("--data", "-d", help="Labelled transactions (file or s3:// URI).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="New folder for the model bundle.")],
    history: Annotated[
        str | None,
        typer.Option(help="Earlier transactions that only warm the feature state."),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Input layout: native, handbook, ulb or a mapping .yaml.")
    ] = "native",
    model: Annotated[
        str, typer.Option("--model", "-m", help="lightgbm, xgboost or logreg.")
    ] = "lightgbm",
    label_delay_days: Annotated[
        float | None,
        typer.Option(
            "--label-delay-days",
            help="Days until a fraud is reported (default: the label_delay_days setting).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: the seed setting).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Training threads (default: every core).", min=1)
    ] = None,
    name: Annotated[str, typer.Option(help="Model family name for the manifest.")] = "fraudwatch",
    registry: Annotated[
        str | None,
        typer.Option(help="Registry folder or s3:// URI (default: the registry setting)."),
    ] = None,
    register: Annotated[
        bool, typer.Option("--register", help="Also register the bundle as a new version.")
    ] = False,
    promote: Annotated[
        bool,
        typer.Option("--promote", help="Register the bundle and make it the champion."),
    ] = False,
    strict: Annotated[bool, typer.Option(help="Stop at the first bad input row.")] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Where rejected rows go (default: <out>.quarantine.csv)."),
    ] = None,
) -> None:
    """Train a fraud model on labelled transactions and write a model bundle.

    Example: fraudwatch train --data tx.parquet --out models/candidate --model lightgbm --seed 7
    """
    from datetime import UTC, datetime, timedelta

    from fraudwatch.cli._data import load_transactions
    from fraudwatch.models import model_class
    from fraudwatch.registry import Registry
    from fraudwatch.training import train_bundle

    started = time.perf_counter()
    settings = settings_from(ctx)
    model_class(model)  # unknown model: exit 2 before reading anything
    delay_days = settings.label_delay_days if label_delay_days is None else label_delay_days
    if delay_days < 0:
        raise ConfigError(f"--label-delay-days must be zero or positive; got {delay_days:g}")
    _check_out(out)
    reg = Registry(registry or settings.registry) if (register or promote) else None
    err = err_console()
    quarantine_to = quarantine or out.with_name(f"{out.name}.quarantine.csv")
    frame = load_transactions(
        data, profile=_profile(profile), strict=strict, quarantine_to=quarantine_to, console=err
    )
    past = None
    if history is not None:
        past = load_transactions(
            history,
            profile=_profile(profile),
            strict=strict,
            quarantine_to=quarantine_to.with_name(f"{out.name}.history.quarantine.csv"),
            console=err,
        )
    with progress("training") as advance:
        bundle = train_bundle(
            frame,
            created_at=datetime.now(UTC),
            history=past,
            model=model,
            label_delay=timedelta(days=delay_days),
            seed=settings.seed if seed is None else seed,
            profile=str(profile),
            num_threads=threads,
            name=name,
            progress=lambda text: advance(0, description=text),
        )
        advance(0, description="writing the bundle")
        path = bundle.save(out)
    console = out_console()
    print_summary(bundle, path, console, time.perf_counter() - started)
    if reg is not None:
        version = reg.register(bundle)
        console.print(f"registered {version} in {reg.root}", highlight=False)
        if promote:
            change = reg.promote(version, "champion", at=datetime.now(UTC))
            console.print(
                f"champion: {change.previous or '(none)'} -> {change.current}", highlight=False
            )
