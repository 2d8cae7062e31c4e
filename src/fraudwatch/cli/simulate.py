"""``fraudwatch simulate``: write simulated card transactions with labelled fraud."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fraudwatch.cli._common import command_errors, out_console, progress, settings_from
from fraudwatch.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from fraudwatch.io import FileFormat

__all__ = ["simulate_command"]

_FLAGS = {
    "customers": "--customers",
    "days": "--days",
    "start": "--start",
    "seed": "--seed",
    "fraud_rate": "--fraud-rate",
    "scenario_shares": "--share",
}


def _parse_shares(values: list[str]) -> dict[str, float]:
    """Turn ``["card_testing=2", "bust_out=1"]`` into a weight per scenario."""
    shares: dict[str, float] = {}
    for item in values:
        name, sep, weight = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shares[name.strip()] = float(weight)
        except ValueError:
            raise ConfigError(
                f"--share expects SCENARIO=WEIGHT, e.g. --share card_testing=0.5 (got {item!r})"
            ) from None
    return shares


def _flagged(message: str) -> str:
    """Name the command-line flags instead of the configuration fields in an error."""
    for field, flag in _FLAGS.items():
        message = re.sub(rf"(?<![\w-]){field}(?=[:.])", flag, message)
    return message


def _stats_table(df: pl.DataFrame) -> None:
    from rich.table import Table

    from fraudwatch.simulate import scenario_stats

    stats = scenario_stats(df)
    n_fraud = int(stats["fraud_transactions"].sum())
    rate = n_fraud / df.height if df.height else 0.0
    table = Table(title="Simulated transactions per scenario", caption=f"fraud rate {rate:.3%}")
    table.add_column("scenario", no_wrap=True)
    for name in ("transactions", "fraudulent", "cards", "share of fraud"):
        table.add_column(name, justify="right")
    for row in stats.iter_rows(named=True):
        table.add_row(
            row["fraud_scenario"],
            f"{row['transactions']:,}",
            f"{row['fraud_transactions']:,}",
            f"{row['cards']:,}",
            "" if row["fraud_scenario"] == "legit" else f"{row['share_of_fraud']:.1%}",
        )
    table.add_section()
    table.add_row(
        "total", f"{df.height:,}", f"{n_fraud:,}", f"{df['card_id'].n_unique():,}", "100.0%"
    )
    out_console().print(table)


@command_errors
def simulate_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file (.csv, .jsonl or .parquet).")
    ],
    customers: Annotated[int, typer.Option(help="Number of card holders.")] = 1_000,
    days: Annotated[int, typer.Option(help="Length of the period in days.")] = 30,
    start: Annotated[
        str, typer.Option(help="Start: a date (midnight UTC) or an ISO datetime.")
    ] = "2024-01-01",
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: the `seed` setting).")
    ] = None,
    fraud_rate: Annotated[
        float, typer.Option("--fraud-rate", help="Share of fraudulent transactions.")
    ] = 0.004,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, jsonl or parquet (default: from the suffix)."),
    ] = None,
    share: Annotated[
        list[str] | None,
        typer.Option(
            "--share",
            help="Weight of a fraud scenario, SCENARIO=WEIGHT; repeat it. Scenarios left "
            "out get weight 0. Default: the built-in mix.",
        ),
    ] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print the fraud share per scenario.")
    ] = False,
) -> None:
    """Simulate card transactions with labelled fraud and write them to a file.

    Example: fraudwatch simulate --customers 5000 --days 60 --seed 7 --out tx.parquet --stats
    """
    from fraudwatch.io import format_from_path, write_frame
    from fraudwatch.simulate import SimulationConfig, simulate

    kinds: dict[str, FileFormat] = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
    if fmt is not None and fmt not in kinds:
        raise ConfigError(f"--format must be one of {', '.join(kinds)} (got {fmt!r})")
    kind = format_from_path(out) if fmt is None else kinds[fmt]
    params: dict[str, object] = {
        "customers": customers,
        "days": days,
        "start": start,
        "seed": settings_from(ctx).seed if seed is None else seed,
        "fraud_rate": fraud_rate,
    }
    if share:
        params["scenario_shares"] = _parse_shares(share)
    try:
        config = SimulationConfig(**params)
    except ConfigError as exc:
        raise ConfigError(_flagged(str(exc))) from None

    with progress("simulating transactions") as advance:
        df = simulate(config)
        advance(description="writing")
        path = write_frame(df, out, kind)
    n_fraud = int(df["is_fraud"].sum())
    out_console().print(
        f"wrote {df.height:,} transactions ({n_fraud:,} fraudulent) to {path}", highlight=False
    )
    if stats:
        _stats_table(df)
