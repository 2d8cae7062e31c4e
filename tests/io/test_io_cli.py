"""The ``validate`` command and the shared ``load_transactions`` helper, through the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
from io_cases import simple_rows, write_rows
from rich.console import Console
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.cli._data import load_transactions


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["validate", *args])
    return result.exit_code, result.output


def _bad_file(tmp_path: Path) -> Path:
    rows = simple_rows(6)
    rows[1]["amount"] = -3.0
    rows[4]["channel"] = "web"
    rows[5]["transaction_id"] = "t0"
    return write_rows(tmp_path / "tx.csv", rows)


def test_clean_file_exits_0_with_summary(tmp_path: Path) -> None:
    """Check that a clean file exits 0 and prints counts and the data summary."""
    code, out = _run(str(write_rows(tmp_path / "tx.csv", simple_rows(10))))
    assert code == 0
    assert "10 rows read, 0 rejected" in out
    assert "OK: all 10 rows are valid" in out
    assert "fraud rate" in out
    assert "card_testing" in out


def test_rejected_rows_exit_0_and_are_listed(tmp_path: Path) -> None:
    """Check that rejected rows are listed with line, id and reason, and exit code stays 0."""
    code, out = _run(str(_bad_file(tmp_path)))
    assert code == 0
    assert "6 rows read, 3 rejected" in out
    assert "amount: negative" in out
    assert "transaction_id: duplicate" in out
    assert "3 were rejected" in out
    assert "pass --quarantine FILE" in out


def test_quarantine_option_writes_the_rejected_rows(tmp_path: Path) -> None:
    """Check that --quarantine writes every rejected row with line and reason and says where."""
    target = tmp_path / "out" / "bad.csv"
    code, out = _run(str(_bad_file(tmp_path)), "--quarantine", str(target))
    assert code == 0
    assert "written to" in out
    rejected = pl.read_csv(target, infer_schema=False)
    assert rejected.select("line", "reason", "transaction_id").rows() == [
        ("3", "amount: negative", "t1"),
        ("6", "channel: unknown value", "t4"),
        ("7", "transaction_id: duplicate", "t0"),
    ]


def test_strict_exits_2_at_first_bad_row(tmp_path: Path) -> None:
    """Check that --strict exits 2 and names the line and transaction."""
    code, out = _run(str(_bad_file(tmp_path)), "--strict")
    assert code == 2
    assert "row 3, transaction 't1': amount: negative" in out


def test_missing_column_exits_2_and_lists_columns(tmp_path: Path) -> None:
    """Check that a missing required column exits 2 naming it and the columns found."""
    path = write_rows(tmp_path / "tx.csv", simple_rows(2), columns=["transaction_id", "amount"])
    code, out = _run(str(path))
    assert code == 2
    assert "missing required column(s) in" in out
    assert "timestamp, card_id" in out
    assert "columns found: transaction_id, amount" in out


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    """Check that an empty file exits 2 with the reason and no traceback."""
    path = tmp_path / "tx.csv"
    path.write_bytes(b"")
    code, out = _run(str(path))
    assert code == 2
    assert "is empty" in out
    assert "Traceback" not in out


def test_bad_profile_exits_2(tmp_path: Path) -> None:
    """Check that an unknown profile exits 2 naming the choices."""
    code, out = _run(str(write_rows(tmp_path / "tx.csv", simple_rows(1))), "--profile", "nope")
    assert code == 2
    assert "native, handbook, ulb" in out


def test_yaml_profile_option(tmp_path: Path) -> None:
    """Check that --profile accepts a mapping file."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("name: mine\ncolumns: {transaction_id: ref}\n")
    path = tmp_path / "tx.csv"
    path.write_text("ref,timestamp,card_id,amount\nr1,2024-01-01,c,1\n")
    code, out = _run(str(path), "--profile", str(mapping))
    assert code == 0
    assert "(profile mine): 1 rows read" in out


def test_all_rows_rejected_is_said_clearly(tmp_path: Path) -> None:
    """Check that a readable file whose every row fails says so (exit 0)."""
    rows = simple_rows(3)
    for row in rows:
        row["amount"] = -1.0
    code, out = _run(str(write_rows(tmp_path / "tx.csv", rows)))
    assert code == 0
    assert "all 3 rows were rejected" in out


def test_json_output(tmp_path: Path) -> None:
    """Check that --json prints one parseable object with counts, reasons and summary."""
    code, out = _run(str(_bad_file(tmp_path)), "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["rows_read"] == 6
    assert payload["rows_rejected"] == 3
    assert payload["rejections_by_reason"]["amount: negative"] == 1
    assert payload["summary"]["rows"] == 3


def test_help_has_an_example() -> None:
    """Check that validate --help shows a usage example."""
    result = CliRunner().invoke(build_app(), ["validate", "--help"])
    assert result.exit_code == 0
    assert "Example: fraudwatch validate" in result.output


def test_load_transactions_reports_and_quarantines(tmp_path: Path) -> None:
    """Check that the shared helper prints counts, a reject table and per-reason counts,
    writes the quarantine file, and returns only accepted rows."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=160)
    target = tmp_path / "q.csv"
    data = load_transactions(
        _bad_file(tmp_path), profile="native", strict=False, quarantine_to=target, console=console
    )
    text = buffer.getvalue()
    assert data["transaction_id"].to_list() == ["t0", "t2", "t3"]
    assert "6 rows read, 3 rejected" in text
    assert "Rejected rows (first 3 of 3)" in text
    assert "Rejections by reason" in text
    assert str(target) in text
    assert pl.read_csv(target).height == 3


def test_load_transactions_warns_when_rejects_are_not_saved(tmp_path: Path) -> None:
    """Check that without a quarantine path the helper says rows were not saved."""
    buffer = io.StringIO()
    load_transactions(
        _bad_file(tmp_path),
        profile="native",
        strict=False,
        quarantine_to=None,
        console=Console(file=buffer, width=160),
    )
    assert "3 rejected rows were not saved" in buffer.getvalue()


def test_load_transactions_shows_at_most_ten_rejects(tmp_path: Path) -> None:
    """Check that the reject table is capped at ten rows while counts cover all."""
    rows = simple_rows(15)
    for row in rows[:12]:
        row["amount"] = -1.0
    buffer = io.StringIO()
    load_transactions(
        write_rows(tmp_path / "tx.csv", rows),
        profile="native",
        strict=False,
        quarantine_to=None,
        console=Console(file=buffer, width=160),
    )
    text = buffer.getvalue()
    assert "Rejected rows (first 10 of 12)" in text
    assert "│ amount: negative │   12 │" in text
