"""``fraudwatch tune``: choose a model's review and decline thresholds and save them in it."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, settings_from

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from fraudwatch.cli.evaluate import ModelRef
    from fraudwatch.registry import Bundle
    from fraudwatch.thresholds import Thresholds

__all__ = ["save_thresholds", "tune"]

log = logging.getLogger(__name__)

_SHOWN = (
    ("precision", "alert precision", "pct"),
    ("recall", "alert recall", "pct"),
    ("decline_precision", "decline precision", "pct"),
    ("decline_recall", "decline recall", "pct"),
    ("amount_caught_share", "fraud amount caught", "pct"),
    ("reviews_per_day", "reviews per day", "num"),
    ("max_reviews_per_day", "reviews on the busiest day", "num"),
    ("declines_per_day", "declines per day", "num"),
    ("cost", "expected cost", "num"),
)


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2%}" if kind == "pct" else f"{value:,.2f}"


def _replace_folder(bundle: Bundle, target: Path) -> None:
    """Rewrite a bundle folder: save beside it, then swap, so a failure leaves the old one."""
    import shutil

    staging = target.with_name(f".{target.name}.tuning")
    backup = target.with_name(f".{target.name}.previous")
    for leftover in (staging, backup):
        if leftover.exists():
            shutil.rmtree(leftover)
    bundle.save(staging)
    target.rename(backup)
    try:
        staging.rename(target)
    except OSError:
        backup.rename(target)
        raise
    shutil.rmtree(backup)


def save_thresholds(ref: ModelRef, thresholds: Thresholds, out: Path | None) -> str:
    """Store ``thresholds`` in the bundle and write it back; returns where it went.

    - ``out`` given: a new bundle folder there.
    - a bundle folder: rewritten in place (manifest and hashes updated, swap at the end).
    - a registry version: registered as a new version ``<version>-t<hash>`` (registered
      versions never change), which the message tells the user to promote.
    """
    from fraudwatch.registry import load_bundle

    bundle = ref.bundle
    bundle.info["thresholds"] = thresholds.to_dict()
    if out is not None:
        bundle.save(out)
        load_bundle(out)  # verify what was written
        return str(out)
    if ref.path is not None and not ref.path.startswith("s3://"):
        target = Path(ref.path)
        _replace_folder(bundle, target)
        load_bundle(target)
        return str(target)
    if ref.registry is not None:
        import hashlib
        import json

        digest = hashlib.sha256(
            json.dumps(thresholds.to_dict(), sort_keys=True).encode()
        ).hexdigest()[:8]
        base = re.sub(r"-t[0-9a-f]{8}$", "", bundle.version)  # re-tuning replaces the suffix
        bundle.info["version"] = f"{base[:118]}-t{digest}"
        return f"registry version {ref.registry.register(bundle)}"
    from fraudwatch.errors import ConfigError

    raise ConfigError(
        f"cannot rewrite the bundle at {ref.path} in place; pass --out FOLDER to write the "
        "tuned bundle to a new folder"
    )


def _overlap_warning(bundle: Bundle, data: pl.DataFrame, console: Console) -> None:
    window = bundle.training.get("window") or {}
    start, end = window.get("start"), window.get("end")
    if not start or not end:
        return
    from datetime import datetime

    first, last = data["timestamp"].min(), data["timestamp"].max()
    if not isinstance(first, datetime) or not isinstance(last, datetime):
        return
    if first <= datetime.fromisoformat(end) and last >= datetime.fromisoformat(start):
        console.print(
            "[yellow]warning: the tuning data overlaps the model's training window "
            f"({start} .. {end}); thresholds tuned on training data are optimistic — tune on "
            "later, validation data.[/]"
        )


def _print(
    old: Thresholds | None, new: Thresholds, old_expected: dict[str, Any], console: Console
) -> None:
    from rich.table import Table

    table = Table(title=f"Thresholds tuned for objective {new.objective!r}")
    table.add_column("", style="bold")
    table.add_column("before", justify="right")
    table.add_column("tuned", justify="right")
    table.add_row(
        "review threshold", "n/a" if old is None else f"{old.review:.6g}", f"{new.review:.6g}"
    )
    table.add_row(
        "decline threshold",
        "n/a" if old is None else f"{old.decline:.6g}",
        f"{new.decline:.6g}",
    )
    for key, label, kind in _SHOWN:
        table.add_row(label, _fmt(old_expected.get(key), kind), _fmt(new.expected.get(key), kind))
    console.print(table)
    params = ", ".join(f"{k}={v}" for k, v in new.params.items() if not k.startswith("data"))
    console.print(f"[dim]parameters: {params}[/]")


@command_errors
def tune(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option("--model", "-m", help="Model bundle folder, or a registry version or alias."),
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data", "-d", help="Labelled validation transactions (not the training data)."
        ),
    ],
    objective: Annotated[
        str,
        typer.Option("--objective", help="cost, f1, precision or alert-budget."),
    ] = "cost",
    review_cost: Annotated[
        float | None, typer.Option("--review-cost", help="Cost of one review (default 5).")
    ] = None,
    decline_friction: Annotated[
        float | None,
        typer.Option(
            "--decline-friction", help="Cost of declining a legitimate transaction (default 20)."
        ),
    ] = None,
    target_precision: Annotated[
        float | None,
        typer.Option("--target-precision", help="precision: decline precision (default 0.9)."),
    ] = None,
    review_precision: Annotated[
        float | None,
        typer.Option("--review-precision", help="precision: review precision (default 0.3)."),
    ] = None,
    decline_precision: Annotated[
        float | None,
        typer.Option(
            "--decline-precision",
            help="f1 / alert-budget: precision the decline threshold reaches (default 0.9).",
        ),
    ] = None,
    max_reviews_per_day: Annotated[
        int | None,
        typer.Option("--max-reviews-per-day", help="alert-budget: review cap (default 100)."),
    ] = None,
    budget_statistic: Annotated[
        str | None,
        typer.Option(
            "--budget-statistic", help="alert-budget: cap the busiest day (max) or the mean."
        ),
    ] = None,
    history: Annotated[
        str | None, typer.Option("--history", help="Earlier transactions to warm the features.")
    ] = None,
    profile: Annotated[
        str,
        typer.Option("--profile", "-p", help="native, handbook, ulb, or a mapping .yaml file."),
    ] = "native",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the tuned bundle to this new folder instead."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the thresholds without saving them.")
    ] = False,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Write rejected rows to this CSV file.")
    ] = None,
) -> None:
    """Tune a model's review and decline thresholds on validation data and save them in it.

    Objectives: cost (missed fraud amount + review cost + decline friction), f1, precision
    (reach --target-precision), alert-budget (at most --max-reviews-per-day reviews). A
    bundle folder is rewritten in place (hashes updated); a registry model is registered
    as a new version.

    Example: fraudwatch tune --model models/candidate --data validation.parquet --objective cost
    """
    from fraudwatch.cli.evaluate import labelled_rows, read_data, resolve_model, score_transactions
    from fraudwatch.errors import ConfigError
    from fraudwatch.thresholds import CostModel, expected_outcomes, tune_thresholds
    from fraudwatch.thresholds._checks import check_choice

    check_choice("--objective", objective, ("cost", "f1", "precision", "alert-budget"))
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
    scored = labelled_rows(score_transactions(ref.bundle, frame, past), err_console(), what="tune")
    _overlap_warning(ref.bundle, scored, err_console())
    given = {
        "review_cost": review_cost,
        "decline_friction": decline_friction,
        "target_precision": target_precision,
        "review_precision": review_precision,
        "decline_precision": decline_precision,
        "max_reviews_per_day": max_reviews_per_day,
        "budget_statistic": budget_statistic,
    }
    params: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    try:
        thresholds = tune_thresholds(scored, objective, **params)
    except ConfigError as exc:  # name the command-line flags, not the Python parameters
        message = str(exc)
        for name in given:
            message = re.sub(rf"(?<![\w-]){name}\b", "--" + name.replace("_", "-"), message)
        raise ConfigError(message) from None
    ts = scored["timestamp"]
    thresholds = type(thresholds)(
        review=thresholds.review,
        decline=thresholds.decline,
        objective=thresholds.objective,
        params={
            **thresholds.params,
            "data": data,
            "data_start": str(ts.min()),
            "data_end": str(ts.max()),
        },
        expected=thresholds.expected,
    )
    old = ref.bundle.thresholds
    cm = CostModel(thresholds.params["review_cost"], thresholds.params["decline_friction"])
    old_expected = (
        expected_outcomes(scored, old.review, old.decline, cost_model=cm) if old is not None else {}
    )
    _print(old, thresholds, old_expected, console)
    if dry_run:
        console.print("Dry run: the model was not changed.")
        return
    where = save_thresholds(ref, thresholds, out)
    console.print(f"Thresholds saved to [bold]{where}[/].")
    if ref.registry is not None:
        console.print(
            "Registered versions never change: promote the new version to use it, e.g. "
            f"fraudwatch models promote {where.rsplit(' ', 1)[-1]} --alias challenger"
        )
