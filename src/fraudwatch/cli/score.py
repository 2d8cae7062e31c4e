"""``fraudwatch score``: score a file of transactions in batch."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, settings_from

__all__ = ["score"]

log = logging.getLogger(__name__)


def _profile(profile: str) -> str | Path:
    return Path(profile) if profile.lower().endswith((".yaml", ".yml")) else profile


def companion_path(out: Path, suffix: str) -> Path:
    """``scores.parquet`` -> ``scores.<suffix>`` next to it."""
    return out.with_name(f"{out.stem}.{suffix}")


@command_errors
def score(
    ctx: typer.Context,
    data: Annotated[
        str, typer.Option("--data", "-d", help="Transactions to score (file or s3://).")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Bundle folder, or registry version or alias.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scores file (.parquet, .csv, .jsonl).")],
    history: Annotated[
        str | None,
        typer.Option(help="Earlier transactions that only warm the feature state."),
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Rules YAML file.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Rows in the top-k file.")] = 100,
    profile: Annotated[
        str, typer.Option(help="Input layout: native, handbook, ulb or a mapping .yaml.")
    ] = "native",
    explain: Annotated[
        str, typer.Option(help="Rows that get reasons: flagged (review/decline), all, none.")
    ] = "flagged",
    explainer: Annotated[
        str,
        typer.Option(
            help="How reasons are computed: path (split-by-split changes along each tree "
            "path; fast) or shap (TreeSHAP; about 100x slower)."
        ),
    ] = "path",
    strict: Annotated[bool, typer.Option(help="Stop at the first bad row.")] = False,
) -> None:
    """Score transactions: score, anomaly score, decision, top reasons, model version.

    Writes the scores file, a top-k file (``<out>.topk.csv``), a summary
    (``<out>.summary.json``) and, when rows are rejected, a quarantine file.

    The wall and CPU time of each stage (features, encode, model, anomaly, decisions,
    reasons, assemble, write) are logged at INFO level.

    Example: fraudwatch score --data new.parquet --model champion --out scores.parquet --top-k 50
    """
    from rich.table import Table

    from fraudwatch.cli._data import load_transactions
    from fraudwatch.errors import ConfigError
    from fraudwatch.io import quarantine_path_for, write_frame
    from fraudwatch.models import check_explain_method
    from fraudwatch.rules import load_rules
    from fraudwatch.scoring import resolve_bundle, score_frame

    if explain not in ("flagged", "all", "none"):
        raise ConfigError(f"--explain must be flagged, all or none; got {explain!r}")
    method = check_explain_method(explainer)  # before any data is read
    settings = settings_from(ctx)
    bundle = resolve_bundle(model, settings.registry)
    fs = bundle.feature_set
    ruleset = None
    if rules is not None:
        from fraudwatch.schema import COLUMNS

        fields = list(fs.names) + [c.name for c in COLUMNS if not c.label]
        ruleset = load_rules(rules, known_fields=fields)
    console = err_console()
    from fraudwatch.schema import canonical_dtypes

    canonical = canonical_dtypes()
    passthrough = [c for c in fs.required_columns if c not in canonical]  # e.g. ULB's V1..V28
    rows = load_transactions(
        data,
        profile=_profile(profile),
        strict=strict,
        quarantine_to=quarantine_path_for(out),
        console=console,
        passthrough=passthrough,
    )
    warm = None
    if history is not None:
        warm = load_transactions(
            history,
            profile=_profile(profile),
            strict=strict,
            quarantine_to=companion_path(out, "history.quarantine.csv"),
            console=console,
            passthrough=passthrough,
        )
    result = score_frame(
        bundle,
        rows,
        history=warm,
        ruleset=ruleset,
        explain=explain,  # type: ignore[arg-type]
        explainer=method,
    )
    started = time.perf_counter(), time.process_time()
    write_frame(result.scores, out)
    topk_path = companion_path(out, "topk.csv")
    write_frame(result.top_k(top_k), topk_path)
    stages = {name: t.to_dict() for name, t in result.timings.items()}
    stages["write"] = {
        "wall_s": time.perf_counter() - started[0],
        "cpu_s": time.process_time() - started[1],
    }
    log.info("batch scoring stages (seconds)", extra={"stages": stages})
    summary_path = companion_path(out, "summary.json")
    summary = {**result.summary, "model_version": bundle.version, "scores": str(out)}
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")

    table = Table(title=f"Scored {result.summary['rows']:,} transactions with {bundle.version}")
    table.add_column("decision")
    table.add_column("count", justify="right")
    for name, n in result.summary["decisions"].items():
        table.add_row(name, f"{n:,}")
    if "amount_flagged" in result.summary:
        table.add_row("flagged amount", f"{result.summary['amount_flagged']:,.2f}")
    labels = result.summary.get("labels")
    if labels:
        table.add_row("fraud rate", f"{labels['fraud_rate']:.4%}")
        if labels["recall_flagged"] is not None:
            table.add_row("fraud flagged (recall)", f"{labels['recall_flagged']:.1%}")
    console_out = out_console()
    console_out.print(table)
    console_out.print(f"scores: {out}\ntop {top_k}: {topk_path}\nsummary: {summary_path}")
