"""``fraudwatch rules``: check a rules file, and backtest rules on labelled history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, progress, settings_from

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from fraudwatch.features import FeatureSet
    from fraudwatch.registry import Bundle
    from fraudwatch.rules import FieldType, RuleSet

__all__ = ["backtest", "check", "rules_app"]

rules_app = typer.Typer(
    name="rules",
    help="Check a rules file, and backtest rules on labelled transactions before they go live.",
    no_args_is_help=True,
)

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model bundle folder or s3:// URI, or a registry version or alias (champion).",
        show_default=False,
    ),
]


def _field_types(fs: FeatureSet, extra: Sequence[str] = ()) -> dict[str, FieldType]:
    """Feature names with their rule types (categorical features are strings)."""
    categorical = set(fs.categorical)
    out: dict[str, FieldType] = {n: "string" if n in categorical else "number" for n in fs.names}
    for name in extra:
        out.setdefault(name, "number")
    return out


def _feature_set(ctx: typer.Context, bundle: Bundle | None) -> FeatureSet:
    from datetime import timedelta

    from fraudwatch.features import default_feature_set

    if bundle is not None:
        from fraudwatch.scoring import bundle_feature_set

        return bundle_feature_set(bundle)
    days = settings_from(ctx).label_delay_days
    return default_feature_set(label_delay=timedelta(days=days))


def _print_ruleset(ruleset: RuleSet, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Checks of {ruleset.source or 'the rule set'}, in decision order")
    for title in ("#", "name", "action", "priority", "enabled", "condition"):
        table.add_column(
            title,
            justify="right" if title in ("#", "priority") else "left",
            no_wrap=title == "name",
        )
    for i, rule in enumerate(ruleset.checks, start=1):
        style = "" if rule.enabled else "dim"
        table.add_row(
            str(i),
            Text(rule.name, style="bold" if rule.enabled else "dim"),
            rule.action,
            str(rule.priority),
            "yes" if rule.enabled else "no",
            Text(rule.condition.canonical),
            style=style,
        )
    console.print(table)
    lists = [v for v in ruleset.lists.values() if len(v)]
    if lists:
        lt = Table(title="Lists")
        for name in ("list", "values", "source"):
            lt.add_column(name, justify="right" if name == "values" else "left")
        for named in lists:
            lt.add_row(named.name, f"{len(named):,}", named.source)
        console.print(lt)


@rules_app.command("check")
@command_errors
def check(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The rules YAML file.")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="An extra numeric field rules may read (repeatable)."),
    ] = None,
    any_field: Annotated[
        bool,
        typer.Option("--any-field", help="Accept any field name (skip the name check)."),
    ] = False,
    model: ModelOption = None,
) -> None:
    """Validate a rules file and print its rules in the order decisions use them.

    Field names are checked against the transaction fields and the default feature set
    (or the feature set of --model). Exits 2 with the rule, line and position of the
    first problem.

    Example: fraudwatch rules check examples/rules.yaml
    """
    from fraudwatch.rules import load_rules

    known: dict[str, FieldType] | None = None
    if not any_field:
        from fraudwatch.scoring import resolve_bundle

        bundle = resolve_bundle(model, settings_from(ctx).registry) if model else None
        known = _field_types(_feature_set(ctx, bundle), field or ())
    ruleset = load_rules(path, known_fields=known)
    console = out_console()
    _print_ruleset(ruleset, console)
    enabled = sum(1 for r in ruleset.rules if r.enabled)
    console.print(
        f"{path}: OK — {len(ruleset.rules)} rules ({enabled} enabled), "
        f"{sum(1 for v in ruleset.lists.values() if len(v))} non-empty lists.",
        highlight=False,
    )


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _print_backtest(
    report: pl.DataFrame,
    summary: dict[str, Any],
    console: Console,
) -> None:
    from rich.table import Table
    from rich.text import Text

    from fraudwatch.rules import TOTAL_ROW

    with_model = summary.get("model_review") is not None
    table = Table(title="Rule backtest (disabled rules are measured too)")
    columns = [
        ("rule", "left"),
        ("action", "left"),
        ("prio", "right"),
        ("hits", "right"),
        ("hit rate", "right"),
        ("precision", "right"),
        ("recall", "right"),
        ("fraud amount", "right"),
        ("unique", "right"),
    ]
    if with_model:
        columns += [("model overlap", "right"), ("frauds model misses", "right")]
    for title, justify in columns:
        table.add_column(title, justify=justify, no_wrap=title == "rule")  # type: ignore[arg-type]
    for row in report.iter_rows(named=True):
        total = row["rule"] == TOTAL_ROW
        name = Text(row["rule"], style="bold" if total else "")
        if not row["enabled"]:
            name = Text(f"{row['rule']} (off)", style="dim")
        cells: list[str | Text] = [
            name,
            row["action"] or "review+decline",
            "" if row["priority"] is None else str(row["priority"]),
            f"{row['hits']:,}",
            _pct(row["hit_rate"], 3),
            _pct(row["precision"]),
            _pct(row["recall"]),
            f"{_money(row['fraud_amount'])} ({_pct(row['fraud_amount_share'])})",
            "" if row["unique_hits"] is None else f"{row['unique_hits']:,}",
        ]
        if with_model:
            cells += [
                _pct(row["model_overlap_rate"]),
                f"{row['frauds_missed_by_model']:,} "
                f"({_money(row['fraud_amount_missed_by_model'])})",
            ]
        table.add_row(*cells, end_section=total)
    console.print(
        f"{summary['rows']:,} transactions, {summary['frauds']:,} frauds "
        f"({_pct(summary['fraud_rate'], 3)}), fraud amount {_money(summary['fraud_amount'])}.",
        highlight=False,
    )
    if with_model:
        console.print(
            f"Model {summary['model_version']} flags scores >= {summary['model_review']:g}: "
            f"{summary['model_flagged']:,} transactions, recall {_pct(summary['model_recall'])}.",
            highlight=False,
        )
    console.print(table)
    total = report.row(report.height - 1, named=True)
    if with_model:
        console.print(
            f"Enabled review/decline checks catch {total['frauds_missed_by_model']:,} frauds "
            f"({_money(total['fraud_amount_missed_by_model'])}) that the model misses.",
            highlight=False,
        )


def _summary(frame: pl.DataFrame, bundle: Bundle | None) -> dict[str, Any]:
    import polars as pl

    fraud = pl.col("is_fraud").cast(pl.Int64) == 1
    row = frame.select(
        pl.len().alias("rows"),
        fraud.sum().alias("frauds"),
        pl.when(fraud).then(pl.col("amount")).otherwise(0.0).sum().alias("fraud_amount"),
    ).row(0, named=True)
    row["fraud_rate"] = row["frauds"] / row["rows"] if row["rows"] else None
    thresholds = bundle.thresholds if bundle is not None else None
    row["model_review"] = thresholds.review if thresholds is not None else None
    if bundle is not None and thresholds is not None:
        flagged = pl.col("score") >= thresholds.review
        stats = frame.select(flagged.sum().alias("n"), (flagged & fraud).sum().alias("tp")).row(0)
        row["model_flagged"] = int(stats[0])
        row["model_recall"] = stats[1] / row["frauds"] if row["frauds"] else None
        row["model_version"] = bundle.version
    return row


@rules_app.command("backtest")
@command_errors
def backtest(
    ctx: typer.Context,
    rules: Annotated[Path, typer.Option("--rules", "-r", help="The rules YAML file.")],
    data: Annotated[
        str,
        typer.Option(
            "--data", "-d", help="Labelled transactions (CSV, JSON Lines, Parquet, s3://)."
        ),
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Layout of the files: native, handbook, ulb, or a mapping .yaml.",
        ),
    ] = "native",
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Earlier transactions that only warm the features (e.g. the month before).",
            show_default=False,
        ),
    ] = None,
    model: ModelOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Also write the table (.csv, .json/.jsonl, .parquet)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2) at the first bad input row.")
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Write rejected input rows to this CSV file."),
    ] = None,
) -> None:
    """Judge each rule on labelled history before it goes live.

    Shows per rule: hits, precision, recall, fraud amount caught, hits no other rule has, and
    (with --model) the overlap with the model's flags and the frauds the model misses.

    Example: fraudwatch rules backtest --rules examples/rules.yaml --data transactions.parquet
    --model champion --out backtest.csv
    """
    import polars as pl

    from fraudwatch.cli._data import load_transactions
    from fraudwatch.errors import RuleError
    from fraudwatch.features import compute_batch
    from fraudwatch.io import write_frame
    from fraudwatch.rules import backtest_rules, load_rules
    from fraudwatch.scoring import resolve_bundle

    settings = settings_from(ctx)
    bundle = resolve_bundle(model, settings.registry) if model else None
    fs = _feature_set(ctx, bundle)
    ruleset = load_rules(rules, known_fields=_field_types(fs))
    prof: str | Path = Path(profile) if profile.lower().endswith((".yaml", ".yml")) else profile
    console = err_console()
    frame = load_transactions(
        data, profile=prof, strict=strict, quarantine_to=quarantine, console=console
    )
    past = (
        load_transactions(history, profile=prof, strict=strict, console=console)
        if history
        else None
    )
    if bundle is None:
        fs, dropped = fs.available_for(frame.columns)
        why = dict(dropped)
        for rule in ruleset.checks:
            for name in sorted(rule.condition.fields & why.keys()):
                raise RuleError(
                    f"feature '{name}' cannot be computed from {data}: {why[name]}",
                    rule=rule.name,
                )
    with progress("computing features") as advance:
        if bundle is not None:
            from fraudwatch.scoring import score_frame

            scored = score_frame(bundle, frame, history=past, explain="none")
            feats = scored.features
            score = scored.scores.get_column("score")
        else:
            feats = compute_batch(fs, frame, past)
            score = None
        advance(1)
    extra = [c for c in feats.columns if c not in frame.columns]
    full = pl.concat([frame, feats.select(extra)], how="horizontal")
    if score is not None:
        full = full.with_columns(score.alias("score"))
    thresholds = bundle.thresholds if bundle is not None else None
    if bundle is not None and thresholds is None:
        err_console().print(
            f"warning: model {bundle.version} has no thresholds; overlap columns are left empty",
            highlight=False,
        )
    report = backtest_rules(ruleset, full, thresholds)
    _print_backtest(report, _summary(full, bundle), out_console())
    if out is not None:
        write_frame(report, out)
        err_console().print(f"backtest written to {out}", highlight=False)
