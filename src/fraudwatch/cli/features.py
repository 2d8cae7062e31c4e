"""``fraudwatch features``: write the feature table of a transaction file, or list the set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console, progress, settings_from
from fraudwatch.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from fraudwatch.features import FeatureSet

__all__ = ["features_command"]


def _profile(value: str) -> str | Path:
    return Path(value) if value.lower().endswith((".yaml", ".yml")) else value


def _usable_columns(*frames: pl.DataFrame | None) -> set[str]:
    """Columns holding at least one value in one of the frames."""
    cols: set[str] = set()
    for df in frames:
        if df is None or df.height == 0:
            continue
        counts = df.null_count().row(0, named=True)
        cols |= {name for name, nulls in counts.items() if nulls < df.height}
    return cols


def _print_list(fs: FeatureSet, as_json: bool) -> None:
    import json

    from rich.table import Table

    console = out_console()
    if as_json:
        payload = fs.to_dict()
        for entry, feat in zip(payload["features"], fs, strict=True):
            entry["name"] = feat.name
            entry["definition"] = feat.describe()
            entry["required_columns"] = list(feat.required_columns)
        console.print_json(json.dumps(payload))
        return
    table = Table(title=f"feature set {fs.name!r} v{fs.version} ({len(fs)} features)")
    for column in ("name", "entity", "window", "delay", "definition", "phrase (example)"):
        table.add_column(column, overflow="fold")
    for feat in fs:
        example: object = "ecom" if feat.categorical else 3.0
        table.add_row(
            feat.name,
            feat.entity or "-",
            feat.window or "-",
            feat.delay or "-",
            feat.describe(),
            feat.explain(example),
        )
    console.print(table)
    console.print(f"hash: {fs.hash}", highlight=False)


@command_errors
def features_command(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", help="Transactions to compute features for (file or s3:// URI)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Feature table to write (.parquet, .csv or .jsonl)."),
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history", help="Earlier transactions that warm the state (no output rows)."
        ),
    ] = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Layout of the files: native, handbook, ulb, or a mapping .yaml.",
        ),
    ] = "native",
    passthrough: Annotated[
        list[str] | None,
        typer.Option(
            "--passthrough", help="Numeric input column to copy as a feature (repeatable)."
        ),
    ] = None,
    label_delay_days: Annotated[
        int | None,
        typer.Option(
            "--label-delay-days",
            min=0,
            help="Days until a label is known (default: the label_delay_days setting, 7).",
        ),
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="Also write the online state after --history (+ --data) to this folder, for "
            "`fraudwatch serve --snapshot`.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Use the feature set of this model (bundle folder, registry version or alias).",
        ),
    ] = None,
    feature_set: Annotated[
        Path | None,
        typer.Option("--feature-set", help="Use the feature set in this JSON file (to_dict())."),
    ] = None,
    list_features: Annotated[
        bool, typer.Option("--list", help="Print the feature set with definitions and phrases.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: print JSON.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2) at the first bad input row.")
    ] = False,
) -> None:
    """Compute the feature table of a transaction file, or list the feature set.

    Writes transaction_id and every feature of the default set that the data can support
    (features whose input columns are missing are reported and left out). Rows of --history
    only warm the state. Rejected input rows go to <out>.quarantine.csv. With --model or
    --feature-set that exact set is used (every feature is required). --snapshot writes the
    online feature state after the history (and data) so a service starts warm.

    Example: fraudwatch features --data tx.parquet --history last-month.parquet --out feats.parquet

    Example: fraudwatch features --model champion --history last-month.parquet --snapshot state/

    Example: fraudwatch features --list
    """
    import time
    from datetime import timedelta

    from fraudwatch.features import compute_batch, default_feature_set

    settings = settings_from(ctx)
    delay = settings.label_delay_days if label_delay_days is None else label_delay_days
    fixed = _chosen_set(model, feature_set, settings.registry)
    fs = fixed if fixed is not None else default_feature_set(label_delay=timedelta(days=delay))
    if passthrough:
        fs = fs.with_passthrough(passthrough)
    if list_features:
        _print_list(fs, as_json)
        return
    if (data is None) != (out is None) or (data is None and snapshot is None):
        raise ConfigError(
            "give --data PATH and --out PATH, and/or --history PATH with --snapshot DIR (or "
            "--list to print the feature set), e.g. fraudwatch features --data tx.parquet "
            "--out features.parquet"
        )
    from fraudwatch.cli._data import load_transactions
    from fraudwatch.io import quarantine_path_for, write_frame

    console = err_console()
    frame = None
    if data is not None and out is not None:
        frame = load_transactions(
            data,
            profile=_profile(profile),
            strict=strict,
            quarantine_to=quarantine_path_for(out),
            console=console,
            passthrough=passthrough or (),
        )
        if frame.height == 0:
            raise ConfigError(f"{data} has no valid transactions; nothing to compute")
    past = None
    if history is not None:
        where = out if out is not None else cast(Path, snapshot) / "history.csv"
        past = load_transactions(
            history,
            profile=_profile(profile),
            strict=strict,
            quarantine_to=where.with_name(f"{where.stem}.history.quarantine.csv"),
            console=console,
            passthrough=passthrough or (),
        )
    if fixed is None:
        fs, dropped = fs.available_for(_usable_columns(frame, past))
        for name, reason in dropped:
            console.print(f"left out {name}: {reason}", highlight=False)
    if frame is not None and out is not None:
        started = time.perf_counter()
        with progress("computing features") as advance:
            table = compute_batch(fs, frame, history=past)
            advance()
        written = write_frame(table, out)
        out_console().print(
            f"wrote {table.height:,} rows x {len(fs)} features to {written} in "
            f"{time.perf_counter() - started:.1f} s (feature set hash {fs.hash[:12]})",
            highlight=False,
        )
    if snapshot is not None:
        _write_snapshot(fs, [f for f in (past, frame) if f is not None], snapshot)


def _chosen_set(model: str | None, path: Path | None, registry: str) -> FeatureSet | None:
    """The feature set named by --model or --feature-set, if any."""
    import json

    from fraudwatch.errors import InputFileError
    from fraudwatch.features import FeatureSet

    if model is not None and path is not None:
        raise ConfigError("give --model or --feature-set, not both")
    if path is not None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputFileError(
                f"feature set file {path} does not exist", path=str(path)
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path} is not valid JSON: {exc}", path=str(path)) from exc
        return FeatureSet.from_dict(payload)
    if model is None:
        return None
    from fraudwatch.registry import Registry, load_bundle

    if model.startswith("s3://") or Path(model).is_dir():
        bundle = load_bundle(model)
    else:
        bundle = Registry(registry).get(model)
    return cast(FeatureSet, bundle.feature_set)


def _write_snapshot(fs: FeatureSet, frames: list[pl.DataFrame], folder: Path) -> None:
    import polars as pl

    from fraudwatch.features import build_snapshot

    if not frames:
        raise ConfigError("--snapshot needs --history (or --data) to build the state from")
    history = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    with progress("building the feature state snapshot") as advance:
        snap = build_snapshot(fs, history)
        advance()
    snap.save(folder)
    sizes = ", ".join(f"{n} {k}" for k, n in snap.summary().items())
    out_console().print(
        f"wrote feature state snapshot to {folder} ({sizes}; feature set hash {fs.hash[:12]})",
        highlight=False,
    )
