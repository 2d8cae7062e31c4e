"""The public surface of fraudwatch.io, pinned so changes are deliberate."""

from __future__ import annotations

import inspect

import fraudwatch.io as fio


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.io exports exactly the documented names."""
    assert sorted(fio.__all__) == sorted(
        [
            "AMOUNT_QUANTILES",
            "BUILTIN_PROFILES",
            "HANDBOOK_SCENARIOS",
            "ULB_DEFAULT_START",
            "DataSummary",
            "FileFormat",
            "Profile",
            "ReadResult",
            "ScenarioStat",
            "SummaryBuilder",
            "builtin_profiles",
            "format_from_path",
            "get_profile",
            "handbook_profile",
            "iter_transaction_batches",
            "load_profile_file",
            "native_profile",
            "profile_from_mapping",
            "quarantine_path_for",
            "read_transactions",
            "summarize",
            "ulb_profile",
            "write_frame",
            "write_quarantine",
        ]
    )


def test_reader_signatures_are_the_agreed_ones() -> None:
    """Check that the reader entry points keep the keyword names other packages call."""
    read = inspect.signature(fio.read_transactions).parameters
    assert list(read)[:4] == ["source", "profile", "strict", "passthrough"]
    assert read["profile"].default == "native"
    batches = inspect.signature(fio.iter_transaction_batches).parameters
    assert list(batches)[:4] == ["source", "profile", "batch_rows", "passthrough"]
    assert batches["batch_rows"].default == 200_000
    fields = {f for f in fio.ReadResult.__dataclass_fields__}
    assert {"data", "rejected", "n_input", "source", "profile"} <= fields
