"""Shared CLI helpers for reading transaction files: progress, rejected-row report, quarantine.

Every command that reads transactions (``train``, ``score``, ``features``, ``evaluate``,
``validate``) goes through :func:`load_transactions` or :func:`read_with_report`, so a user
always sees how many rows were read and rejected, why, and where the rejected rows went.
No row is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fraudwatch.cli._common import err_console, progress

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from fraudwatch.io import Profile

__all__ = [
    "ReadReport",
    "load_transactions",
    "print_read_report",
    "read_with_report",
    "rejection_counts",
]

SHOWN_REJECTS = 10


@dataclass(frozen=True)
class ReadReport:
    """What reading one input gave (accepted rows are not kept here)."""

    source: str
    profile: str
    n_input: int
    rejected: pl.DataFrame
    ignored_columns: tuple[str, ...]
    id_column: str | None
    quarantine: Path | None

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows."""
        return self.rejected.height


def rejection_counts(rejected: pl.DataFrame) -> list[tuple[str, int]]:
    """Count rejected rows per reason (a row with several reasons counts for each).

    >>> import polars as pl
    >>> rejection_counts(pl.DataFrame({"reason": ["a: x; b: y", "a: x"]}))
    [('a: x', 2), ('b: y', 1)]
    """
    import polars as pl

    if rejected.is_empty():
        return []
    counts = (
        rejected.select(pl.col("reason").str.split("; ").alias("r"))
        .explode("r")
        .group_by("r")
        .len()
        .sort(["len", "r"], descending=[True, False])
    )
    return [(str(r), int(n)) for r, n in counts.iter_rows()]


def read_with_report(
    path: str | Path,
    *,
    profile: str | Path | Profile = "native",
    strict: bool = False,
    quarantine_to: Path | None = None,
    passthrough: Sequence[str] = (),
    on_batch: Callable[[pl.DataFrame], None] | None = None,
    keep: bool = True,
) -> tuple[pl.DataFrame | None, ReadReport]:
    """Read ``path`` batch by batch with a progress bar; write the quarantine file.

    Parameters
    ----------
    path:
        Local path or ``s3://`` URI.
    profile:
        Profile name, mapping file or :class:`~fraudwatch.io.Profile`.
    strict:
        Stop at the first bad row (:class:`~fraudwatch.errors.DataValidationError`).
    quarantine_to:
        Where to write rejected rows (CSV), if there are any.
    passthrough:
        Extra numeric columns to keep.
    on_batch:
        Called with the accepted rows of each batch (e.g. to build a summary).
    keep:
        Keep and return the accepted rows (``False`` streams without keeping them).

    Returns
    -------
    tuple
        The accepted rows (None when ``keep`` is False) and the :class:`ReadReport`.
    """
    import polars as pl

    from fraudwatch.io import get_profile, iter_transaction_batches, write_quarantine

    prof = get_profile(profile)
    accepted: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []
    n_input = 0
    source = str(path)
    ignored: tuple[str, ...] = ()
    with progress(f"reading {source}") as advance:
        for batch in iter_transaction_batches(
            path, profile=prof, strict=strict, passthrough=passthrough
        ):
            n_input += batch.n_input
            ignored = batch.ignored_columns
            if keep:
                accepted.append(batch.data)
            if on_batch is not None:
                on_batch(batch.data)
            rejected.append(batch.rejected)
            advance(batch.n_input)
    bad = pl.concat(rejected, how="diagonal") if rejected else pl.DataFrame()
    written = write_quarantine(bad, quarantine_to) if quarantine_to is not None else None
    data = pl.concat(accepted, how="vertical", rechunk=True) if keep and accepted else None
    report = ReadReport(
        source=source,
        profile=prof.name,
        n_input=n_input,
        rejected=bad,
        ignored_columns=ignored,
        id_column=prof.source_of("transaction_id"),
        quarantine=written,
    )
    return data, report


def print_read_report(report: ReadReport, console: Console) -> None:
    """Print rows read and rejected, the first rejected rows, counts per reason, quarantine."""
    from rich.table import Table
    from rich.text import Text

    n_ok = report.n_input - report.n_rejected
    console.print(
        Text.assemble(
            (report.source, "bold"),
            f" (profile {report.profile}): {report.n_input:,} rows read, "
            f"{report.n_rejected:,} rejected, {n_ok:,} accepted.",
        )
    )
    if report.ignored_columns:
        console.print(
            Text(
                "Columns not used (not in the schema or the profile): "
                + ", ".join(report.ignored_columns),
                style="dim",
            )
        )
    if not report.n_rejected:
        return
    rejected = report.rejected
    shown = min(SHOWN_REJECTS, rejected.height)
    table = Table(title=f"Rejected rows (first {shown} of {rejected.height:,})")
    table.add_column("line", justify="right")
    table.add_column("transaction id")
    table.add_column("reason")
    id_col = report.id_column if report.id_column in rejected.columns else None
    for row in rejected.head(shown).iter_rows(named=True):
        tid = row.get(id_col) if id_col else None
        table.add_row(
            str(row["line"]), Text(str(tid) if tid is not None else "-"), Text(row["reason"])
        )
    console.print(table)
    by_reason = Table(title="Rejections by reason")
    by_reason.add_column("reason")
    by_reason.add_column("rows", justify="right")
    for reason, count in rejection_counts(rejected):
        by_reason.add_row(Text(reason), f"{count:,}")
    console.print(by_reason)
    if report.quarantine is not None:
        console.print(
            Text.assemble(
                f"{report.n_rejected:,} rejected rows written to ",
                (str(report.quarantine), "bold"),
                " (line, reason, original fields); fix them there and read that file again.",
            )
        )
    else:
        console.print(
            Text(
                f"warning: {report.n_rejected:,} rejected rows were not saved; pass "
                "--quarantine FILE to keep them.",
                style="yellow",
            )
        )


def load_transactions(
    path: str | Path,
    *,
    profile: str | Path | Profile = "native",
    strict: bool = False,
    quarantine_to: Path | None = None,
    console: Console | None = None,
    passthrough: Sequence[str] = (),
) -> pl.DataFrame:
    """Read transactions for a command, reporting what was read and rejected.

    Prints "N rows read, M rejected", a table of the first 10 rejected rows (line,
    transaction id, reason), the count per reason, and where the quarantine file went.

    Parameters
    ----------
    path:
        Local path or ``s3://`` URI.
    profile:
        ``native``, ``handbook``, ``ulb`` or a mapping ``.yaml``.
    strict:
        Stop at the first bad row instead of quarantining it.
    quarantine_to:
        CSV file for rejected rows (written only when there are some); see
        :func:`fraudwatch.io.quarantine_path_for`.
    console:
        Where to print (default: stderr, so stdout stays free for data).
    passthrough:
        Extra numeric columns to keep as features.

    Returns
    -------
    polars.DataFrame
        The accepted rows, canonical columns and dtypes, input order.

    Raises
    ------
    InputFileError, MissingColumnsError, DataValidationError, ConfigError
        User errors; :func:`~fraudwatch.cli._common.command_errors` turns them into exit 2.
    """
    import polars as pl

    data, report = read_with_report(
        path,
        profile=profile,
        strict=strict,
        quarantine_to=quarantine_to,
        passthrough=passthrough,
    )
    print_read_report(report, console if console is not None else err_console())
    return data if data is not None else pl.DataFrame()
