"""``fraudwatch validate``: check a transaction file and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fraudwatch.cli._common import command_errors, out_console

__all__ = ["validate"]


@command_errors
def validate(
    path: Annotated[
        str, typer.Argument(help="CSV, JSON Lines or Parquet file, or an s3://bucket/key URI.")
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            help="Layout of the file: native, handbook, ulb, or a mapping .yaml file.",
        ),
    ] = "native",
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 2) at the first bad row.")
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Write rejected rows to this CSV file."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.")
    ] = False,
) -> None:
    """Check a transaction file against the schema, list bad rows, and summarise the data.

    Exits 0 if the file can be read, even with rejected rows; 2 if it cannot.

    With --strict, exits 2 at the first bad row.

    Example: fraudwatch validate transactions.csv --quarantine bad-rows.csv
    """
    import json

    from rich.text import Text

    from fraudwatch.cli._data import print_read_report, read_with_report, rejection_counts
    from fraudwatch.io import SummaryBuilder

    builder = SummaryBuilder()
    _, report = read_with_report(
        path,
        profile=profile,
        strict=strict,
        quarantine_to=quarantine,
        on_batch=builder.update,
        keep=False,
    )
    summary = builder.result()
    console = out_console()
    if as_json:
        payload = {
            "source": report.source,
            "profile": report.profile,
            "rows_read": report.n_input,
            "rows_rejected": report.n_rejected,
            "rejections_by_reason": dict(rejection_counts(report.rejected)),
            "quarantine": str(report.quarantine) if report.quarantine else None,
            "ignored_columns": list(report.ignored_columns),
            "summary": summary.to_dict(),
        }
        console.print_json(json.dumps(payload))
        return
    print_read_report(report, console)
    for table in summary.tables():
        console.print(table)
    accepted = report.n_input - report.n_rejected
    if not report.n_rejected:
        console.print(Text(f"OK: all {report.n_input:,} rows are valid.", style="green"))
    elif accepted:
        console.print(
            Text(
                f"The file can be read: {accepted:,} rows are valid and {report.n_rejected:,} "
                "were rejected (see above).",
                style="yellow",
            )
        )
    else:
        console.print(
            Text(
                f"The file can be read, but all {report.n_input:,} rows were rejected; check "
                "the reasons above and the --profile.",
                style="bold yellow",
            )
        )
