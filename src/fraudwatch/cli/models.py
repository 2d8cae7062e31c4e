"""``fraudwatch models``: list, show, promote and roll back registered model versions."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from fraudwatch.cli._common import command_errors, out_console, settings_from

__all__ = ["list_models", "models_app", "promote", "rollback", "show"]

models_app = typer.Typer(
    name="models",
    help="Registered model versions and the champion / challenger aliases.",
    no_args_is_help=True,
)

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        "-r",
        help="Registry folder or s3://bucket/prefix (default: the registry setting).",
        show_default=False,
    ),
]
AliasOption = Annotated[str, typer.Option("--alias", "-a", help="champion or challenger.")]


def _registry(ctx: typer.Context, registry: str | None) -> Any:
    from fraudwatch.registry import Registry

    return Registry(registry or settings_from(ctx).registry)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


@models_app.command("list")
@command_errors
def list_models(ctx: typer.Context, registry: RegistryOption = None) -> None:
    """List registered versions, oldest first, with their metrics and aliases.

    Example: fraudwatch models list --registry models
    """
    from rich.table import Table

    reg = _registry(ctx, registry)
    versions = reg.list()
    console = out_console()
    if not versions:
        console.print(
            f"no model registered in {reg.root}; train one with "
            "`fraudwatch train --data FILE --out DIR --register`",
            highlight=False,
        )
        return
    table = Table(title=f"Models in {reg.root}")
    for col in ("version", "model", "created", "profile", "AP", "ROC AUC", "aliases"):
        table.add_column(col, justify="right" if col in ("AP", "ROC AUC") else "left")
    for v in versions:
        table.add_row(
            v.version,
            v.model_type,
            v.created_at,
            v.profile,
            _fmt(v.metrics.get("average_precision")),
            _fmt(v.metrics.get("roc_auc")),
            ", ".join(v.aliases),
        )
    console.print(table)


@models_app.command("show")
@command_errors
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A version, or an alias (champion, challenger).")],
    registry: RegistryOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole manifest as JSON.")
    ] = False,
) -> None:
    """Verify a version (every file's hash) and show its manifest.

    Example: fraudwatch models show champion
    """
    from rich.table import Table

    reg = _registry(ctx, registry)
    bundle = reg.get(ref)
    manifest = bundle.manifest
    console = out_console()
    if as_json:
        console.print_json(json.dumps(manifest))
        return
    t = manifest["training"]
    table = Table(title=f"Model {bundle.version} (verified)", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    aliases = [a for a, v in reg.aliases().items() if v == bundle.version]
    rows = [
        ("name", bundle.name),
        ("model type", bundle.model_type),
        ("created", manifest["created_at"]),
        ("aliases", ", ".join(aliases) or "-"),
        ("profile", bundle.profile),
        ("features", f"{len(bundle.feature_names)}: {', '.join(bundle.feature_names)}"),
        ("feature set hash", bundle.feature_hash),
        (
            "training window",
            f"{t.get('window', {}).get('start')} to {t.get('window', {}).get('end')}",
        ),
        ("training rows / frauds", f"{t.get('rows', '-')} / {t.get('frauds', '-')}"),
        ("data fingerprint", str(t.get("fingerprint", "-"))),
        ("label delay (days)", _fmt(t.get("label_delay_days"))),
        ("split", str(t.get("split", {}).get("reason", "-"))),
    ]
    rows += [(f"metric {k}", _fmt(v)) for k, v in sorted(bundle.metrics.items())]
    th = bundle.thresholds
    if th is not None:
        rows.append(
            ("thresholds", f"review {th.review:.6g}, decline {th.decline:.6g} ({th.objective})")
        )
    rows += [(f"library {k}", str(v)) for k, v in sorted(manifest["libraries"].items())]
    rows += [(f"file {k}", v) for k, v in sorted(manifest["files"].items())]
    for field, value in rows:
        table.add_row(field, value)
    console.print(table)


@models_app.command("promote")
@command_errors
def promote(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to promote (or an alias).")],
    alias: AliasOption = "champion",
    registry: RegistryOption = None,
) -> None:
    """Point an alias (champion by default) at a version, after verifying its bundle.

    Example: fraudwatch models promote 20260301T120000Z-1a2b3c4d --alias champion
    """
    from datetime import UTC, datetime

    change = _registry(ctx, registry).promote(ref, alias, at=datetime.now(UTC))
    out_console().print(
        f"{change.alias}: {change.previous or '(none)'} -> {change.current}", highlight=False
    )


@models_app.command("rollback")
@command_errors
def rollback(
    ctx: typer.Context,
    alias: AliasOption = "champion",
    registry: RegistryOption = None,
) -> None:
    """Point an alias back at the version it pointed at before.

    Example: fraudwatch models rollback --alias champion
    """
    from datetime import UTC, datetime

    change = _registry(ctx, registry).rollback(alias, at=datetime.now(UTC))
    out_console().print(
        f"{change.alias} rolled back: {change.previous} -> {change.current}", highlight=False
    )
