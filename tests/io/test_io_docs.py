"""docs/schema.md stays in step with the code: columns, reasons, and runnable YAML examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fraudwatch.io import get_profile
from fraudwatch.schema import COLUMNS
from fraudwatch.schema.validate import REASONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def _text() -> str:
    if not DOC.exists():
        pytest.fail(f"{DOC} is missing")
    return DOC.read_text(encoding="utf-8")


def test_doc_lists_every_canonical_column() -> None:
    """Check that the schema table has a row for every column, with its required flag."""
    text = _text()
    for col in COLUMNS:
        required = "yes" if col.required else "no"
        pattern = rf"\| `{col.name}` \| [^|]+ \| {required} \| {re.escape(col.description)} \|"
        assert re.search(pattern, text), col.name


def test_doc_lists_every_reason() -> None:
    """Check that every rejection reason of the validator is documented."""
    text = _text()
    for reason in REASONS:
        assert f"| `{reason}` |" in text, reason


def test_doc_yaml_examples_load(tmp_path: Path) -> None:
    """Check that every YAML example in the doc is a valid mapping file."""
    blocks = re.findall(r"```yaml\n(.*?)```", _text(), flags=re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(block)
        assert get_profile(path).name
