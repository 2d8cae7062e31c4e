"""Contract tests of feedback, the audit log and the labelled export (SQLite and PG)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from store_helpers import T0, FakeClock, make_tx

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.schema import canonical_dtypes
from fraudwatch.store import Store


def _review(store: Store, tx_id: str, **extra: Any) -> int:
    result = store.record_decision(
        make_tx(tx_id, **extra), score=0.8, decision="review", model_version="v1"
    )
    assert result.case_id is not None
    return result.case_id


def test_feedback_is_stored_with_its_transaction(store: Store) -> None:
    """Check that feedback is stored with label, source, note, actor and the card."""
    store.record_decision(make_tx("t1", card="c7"), score=0.1, decision="allow", model_version="v")
    at = T0 + timedelta(days=30)
    fb = store.add_feedback("t1", "fraud", "chargeback", actor="acquirer", note="CB 4837", at=at)
    (read,) = store.feedback_since(T0)
    assert read == fb
    assert (read.label, read.source, read.note, read.actor, read.card_id, read.received_at) == (
        "fraud",
        "chargeback",
        "CB 4837",
        "acquirer",
        "c7",
        at,
    )


def test_feedback_resolves_the_open_case(store: Store) -> None:
    """Check that feedback on a transaction with an open case resolves it with the label."""
    case_id = _review(store, "t1")
    store.add_feedback("t1", "legit", "analyst", actor="ana", note="known customer")
    case = store.get_case(case_id).case
    assert (case.status, case.resolution, case.resolved_by, case.note) == (
        "resolved",
        "legit",
        "ana",
        "known customer",
    )


def test_feedback_leaves_a_resolved_case_alone(store: Store) -> None:
    """Check that a later, contradicting label is kept but does not rewrite the resolution."""
    case_id = _review(store, "t1")
    store.resolve_case(case_id, "legit", actor="ana")
    store.add_feedback("t1", "fraud", "chargeback", actor="acquirer")
    assert store.get_case(case_id).case.resolution == "legit"
    assert [f.label for f in store.get_case(case_id).feedback] == ["fraud"]


def test_feedback_is_audited_with_the_resolution(store: Store) -> None:
    """Check that feedback writes a feedback.add entry and a case.resolve entry."""
    case_id = _review(store, "t1")
    store.add_feedback("t1", "fraud", "customer", actor="portal")
    entries = {e.action: e for e in store.list_audit(actor="portal").items}
    assert set(entries) == {"feedback.add", "case.resolve"}
    assert entries["feedback.add"].target == "transaction:t1"
    assert entries["feedback.add"].details["resolved_case"] == case_id
    assert entries["case.resolve"].details["via"] == "feedback"


def test_feedback_on_unknown_transaction_raises_not_found(store: Store) -> None:
    """Check that feedback on a transaction never scored raises NotFoundError, storing nothing."""
    with pytest.raises(NotFoundError, match="no decision is stored for transaction 'ghost'"):
        store.add_feedback("ghost", "fraud", "analyst", actor="ana")
    assert store.feedback_since(T0 - timedelta(days=1)) == []
    assert store.list_audit().items == []


@pytest.mark.parametrize(
    ("label", "source", "match"),
    [
        ("stolen", "analyst", "label must be one of fraud, legit"),
        ("fraud", "bank", "source must be one of analyst, chargeback, customer"),
    ],
)
def test_bad_label_or_source_is_refused(store: Store, label: str, source: str, match: str) -> None:
    """Check that an unknown label or source names the allowed values."""
    store.record_decision(make_tx("t1"), score=0.1, decision="allow", model_version="v")
    with pytest.raises(ConfigError, match=match):
        store.add_feedback("t1", label, source, actor="ana")


def test_feedback_since_polling_reads_each_label_once(store: Store, clock: FakeClock) -> None:
    """Check that polling with (received_at, id) of the last row reads every label exactly once."""
    clock.step = timedelta(0)  # several labels at the same instant
    for i in range(5):
        store.record_decision(make_tx(f"t{i}"), score=0.1, decision="allow", model_version="v")
        store.add_feedback(f"t{i}", "legit", "customer", actor="portal")
    seen: list[int] = []
    since, after = T0 - timedelta(days=1), None
    while batch := store.feedback_since(since, limit=2, after_id=after):
        seen.extend(f.id for f in batch)
        since, after = batch[-1].received_at, batch[-1].id
    assert len(seen) == len(set(seen)) == 5


def test_labelled_export_is_a_canonical_frame(store: Store) -> None:
    """Check that the export has canonical dtypes, numeric extras as Float64 and is_fraud."""
    store.record_decision(
        make_tx("t1", merchant_id="m1", channel="ecom", latitude=48.8, risk_hint=3, note="x"),
        score=0.9,
        decision="review",
        model_version="v",
    )
    store.add_feedback("t1", "fraud", "analyst", actor="ana")
    frame = store.labelled_transactions()
    dtypes = canonical_dtypes()
    for name in ("transaction_id", "timestamp", "card_id", "amount", "merchant_id", "latitude"):
        assert frame.schema[name] == dtypes[name]
    assert frame.schema["risk_hint"] == pl.Float64
    assert "note" not in frame.columns
    assert frame["is_fraud"].dtype == pl.Int8
    assert frame.row(0, named=True)["is_fraud"] == 1
    assert frame.row(0, named=True)["timestamp"] == T0


def test_labelled_export_uses_latest_label_before_until(store: Store) -> None:
    """Check that the label is the latest one received before `until`, in a time window."""
    store.record_decision(make_tx("t1"), score=0.1, decision="allow", model_version="v")
    store.record_decision(make_tx("t2"), score=0.1, decision="allow", model_version="v")
    day = timedelta(days=1)
    store.add_feedback("t1", "legit", "customer", actor="p", at=T0 + day)
    store.add_feedback("t1", "fraud", "chargeback", actor="b", at=T0 + 10 * day)
    store.add_feedback("t2", "fraud", "analyst", actor="a", at=T0 + 2 * day)

    def labels(**kw: object) -> dict[str, int]:
        frame = store.labelled_transactions(**kw)  # type: ignore[arg-type]
        return dict(zip(frame["transaction_id"], frame["is_fraud"], strict=True))

    assert labels() == {"t1": 1, "t2": 1}
    assert labels(until=T0 + 5 * day) == {"t1": 0, "t2": 1}
    assert labels(since=T0 + 5 * day) == {"t1": 1}
    meta = store.labelled_transactions(until=T0 + 5 * day, label_metadata=True)
    assert meta.filter(pl.col("transaction_id") == "t1")["label_source"].to_list() == ["customer"]
    assert meta["label_received_at"].dtype == pl.Datetime("us", "UTC")


def test_labelled_export_of_nothing_has_the_required_columns(store: Store) -> None:
    """Check that an empty export still has the required columns and is_fraud."""
    frame = store.labelled_transactions()
    assert frame.height == 0
    assert {"transaction_id", "timestamp", "card_id", "amount", "is_fraud"} <= set(frame.columns)


def test_audit_entry_is_written_and_listed(store: Store) -> None:
    """Check that audit() stores who did what to what, when, with details."""
    at = T0 + timedelta(hours=3)
    entry = store.audit("ops", "model.reload", "model:v7", {"from": "v6"}, at=at)
    (listed,) = store.list_audit(action="model.reload").items
    assert listed == entry
    assert (listed.actor, listed.target, listed.details, listed.at) == (
        "ops",
        "model:v7",
        {"from": "v6"},
        at,
    )


def test_list_audit_filters_and_pages_newest_first(store: Store) -> None:
    """Check that list_audit filters exactly and pages newest first without overlap."""
    for i in range(5):
        store.audit("ops" if i % 2 else "ci", "model.reload", f"model:v{i}", {"i": i})
    first = store.list_audit(limit=2)
    assert [e.details["i"] for e in first.items] == [4, 3]
    assert first.next_cursor is not None
    rest = store.list_audit(limit=10, cursor=first.next_cursor)
    assert [e.details["i"] for e in rest.items] == [2, 1, 0]
    assert [e.details["i"] for e in store.list_audit(actor="ops").items] == [3, 1]
    window = store.list_audit(
        since=T0 + timedelta(milliseconds=1), until=T0 + timedelta(milliseconds=3)
    )
    assert [e.details["i"] for e in window.items] == [2, 1]


def test_audit_cursor_with_other_filters_is_refused(store: Store) -> None:
    """Check that an audit cursor cannot be reused with different filters."""
    for i in range(3):
        store.audit("ops", "model.reload", f"model:v{i}")
    cursor = store.list_audit(limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(ConfigError, match="made for other filters"):
        store.list_audit(limit=1, cursor=cursor, actor="ops")


def test_audit_details_must_be_json(store: Store) -> None:
    """Check that details that cannot be JSON are refused with the reason."""
    with pytest.raises(ConfigError, match="details must be JSON-serialisable"):
        store.audit("ops", "model.reload", "model:v1", {"x": object()})
