"""Contract tests of decisions: idempotent recording, cases opened, reads (SQLite and PG)."""

from __future__ import annotations

import itertools
import math
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from store_helpers import T0, make_tx

from fraudwatch.errors import ConfigError, DataValidationError, NotFoundError
from fraudwatch.store import DecisionInput, Store
from fraudwatch.store._schema import cases, decisions

_ids = itertools.count()
DB_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _count(store: Store, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_record_new_decision_is_created(store: Store) -> None:
    """Check that a first decision is stored and reported as created."""
    result = store.record_decision(
        make_tx("t1"),
        score=0.12,
        decision="allow",
        model_version="v1",
        reasons=[{"feature": "amount", "contribution": 0.02}],
        rules_fired=["r1"],
        anomaly_score=0.4,
        latency_ms=1.5,
    )
    assert result.created
    stored = store.get_decision("t1")
    assert stored == result.decision
    assert stored.reasons == [{"feature": "amount", "contribution": 0.02}]
    assert stored.rules_fired == ["r1"]
    assert stored.anomaly_score == 0.4


def test_retry_returns_the_first_decision(store: Store) -> None:
    """Check that a retry with other values returns the stored decision and writes nothing."""
    first = store.record_decision(make_tx("t1"), score=0.9, decision="decline", model_version="v1")
    retry = store.record_decision(make_tx("t1"), score=0.1, decision="allow", model_version="v2")
    assert not retry.created
    assert retry.decision == first.decision
    assert retry.case_id == first.case_id
    assert _count(store, decisions) == 1
    assert _count(store, cases) == 1


@pytest.mark.parametrize(("decision", "opens"), [("allow", 0), ("review", 1), ("decline", 1)])
def test_review_and_decline_open_a_case(store: Store, decision: str, opens: int) -> None:
    """Check that review and decline open exactly one open case, allow none."""
    result = store.record_decision(make_tx("t1"), score=0.5, decision=decision, model_version="v")
    assert _count(store, cases, status="open") == opens
    assert (result.case_id is not None) == bool(opens)


def test_concurrent_inserts_of_one_id_store_one_row(store: Store) -> None:
    """Check that threads racing on one transaction id store one row and agree on it."""
    n_threads = 8
    barrier = threading.Barrier(n_threads)
    results: list[Any] = [None] * n_threads
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = store.record_decision(
                make_tx("race"),
                score=i / 10,
                decision="review",
                model_version=f"v{i}",
            )
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sum(r.created for r in results) == 1
    assert len({r.decision.model_version for r in results}) == 1
    assert len({r.case_id for r in results}) == 1
    assert _count(store, decisions) == 1
    assert _count(store, cases) == 1


def test_record_decisions_stores_a_group_in_one_call(store: Store) -> None:
    """Check that a group is stored with one result per item, a repeated id stored once."""
    items = [
        DecisionInput(make_tx("g1"), score=0.1, decision="allow", model_version="v"),
        DecisionInput(make_tx("g2"), score=0.9, decision="decline", model_version="v"),
        DecisionInput(make_tx("g1"), score=0.8, decision="review", model_version="v"),
    ]
    results = store.record_decisions(items)
    assert [(r.decision.transaction_id, r.created) for r in results] == [
        ("g1", True),
        ("g2", True),
        ("g1", False),
    ]
    assert results[2].decision == results[0].decision
    assert results[1].case_id is not None
    assert _count(store, decisions) == 2
    assert _count(store, cases) == 1
    assert store.record_decisions([]) == []


def test_record_decisions_bad_item_writes_nothing(store: Store) -> None:
    """Check that one invalid item fails the whole group and is named in the error."""
    items = [
        DecisionInput(make_tx("ok1"), score=0.1, decision="allow", model_version="v"),
        DecisionInput(make_tx("bad", weird={1, 2}), score=0.1, decision="allow", model_version="v"),
    ]
    with pytest.raises(DataValidationError, match=r"transaction 'bad'.*cannot be stored as JSON"):
        store.record_decisions(items)
    assert _count(store, decisions) == 0


def test_find_record_returns_what_a_retry_would(store: Store) -> None:
    """Check that find_record gives the stored decision and case id without writing."""
    assert store.find_record("t1") is None
    first = store.record_decision(make_tx("t1"), score=0.9, decision="review", model_version="v")
    found = store.find_record("t1")
    assert found is not None
    assert (found.decision, found.case_id, found.created) == (first.decision, first.case_id, False)
    assert _count(store, cases) == 1


def test_get_unknown_decision_raises_not_found(store: Store) -> None:
    """Check that reading a decision that was never stored raises NotFoundError."""
    with pytest.raises(NotFoundError, match="no decision is stored for transaction 'nope'"):
        store.get_decision("nope")
    assert store.find_decision("nope") is None


def test_created_at_comes_from_the_clock(store: Store) -> None:
    """Check that created_at is the injected clock's time unless `at` is given."""
    first = store.record_decision(make_tx("a"), score=0.1, decision="allow", model_version="v")
    at = datetime(2030, 1, 1, tzinfo=UTC)
    second = store.record_decision(
        make_tx("b"), score=0.1, decision="allow", model_version="v", at=at
    )
    assert first.decision.created_at == T0
    assert store.get_decision("b").created_at == at == second.decision.created_at


@pytest.mark.parametrize(
    ("tx", "match"),
    [
        ({"timestamp": T0, "card_id": "c", "amount": 1.0}, "transaction_id must be"),
        ({"transaction_id": "x", "card_id": "c", "amount": 1.0}, "timestamp must be"),
        (
            {
                "transaction_id": "x",
                "timestamp": "2024-01-01T00:00:00",
                "card_id": "c",
                "amount": 1,
            },
            "has no time zone",
        ),
        ({"transaction_id": "x", "timestamp": T0, "amount": 1.0}, "card_id must be"),
        ({"transaction_id": "x", "timestamp": T0, "card_id": "c", "amount": "9"}, "amount must"),
        ({"transaction_id": "x", "timestamp": T0, "card_id": "c", "amount": math.inf}, "finite"),
    ],
)
def test_malformed_transaction_is_refused(store: Store, tx: dict[str, Any], match: str) -> None:
    """Check that a transaction missing or mangling a required field raises a clear error."""
    with pytest.raises(DataValidationError, match=match):
        store.record_decision(tx, score=0.1, decision="allow", model_version="v")
    assert _count(store, decisions) == 0


def test_unknown_decision_value_is_refused(store: Store) -> None:
    """Check that a decision other than allow/review/decline names the allowed values."""
    with pytest.raises(ConfigError, match="decision must be one of allow, review, decline"):
        store.record_decision(make_tx("t"), score=0.1, decision="block", model_version="v")


def test_nan_score_is_refused(store: Store) -> None:
    """Check that a NaN score is refused with the transaction id in the message."""
    with pytest.raises(DataValidationError, match=r"transaction .t.*score must be finite"):
        store.record_decision(make_tx("t"), score=math.nan, decision="allow", model_version="v")


def test_unserialisable_field_is_refused(store: Store) -> None:
    """Check that a transaction value that is not JSON is refused and nothing is written."""
    with pytest.raises(DataValidationError, match="cannot be stored as JSON"):
        store.record_decision(
            make_tx("t", device=object()), score=0.1, decision="allow", model_version="v"
        )
    assert store.find_decision("t") is None


def test_naive_decision_time_is_refused(store: Store) -> None:
    """Check that a naive `at` is refused: every stored time is UTC."""
    with pytest.raises(ConfigError, match="has no time zone"):
        store.record_decision(
            make_tx("t"), score=0.1, decision="allow", model_version="v", at=datetime(2024, 1, 1)
        )


@DB_SETTINGS
@given(
    ts=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_timestamps_round_trip_as_utc(store: Store, ts: datetime) -> None:
    """Check that any aware timestamp is read back as the same instant, in UTC."""
    tx_id = f"ts-{next(_ids)}"
    store.record_decision(make_tx(tx_id, at=ts), score=0.1, decision="allow", model_version="v")
    got = store.get_decision(tx_id)
    assert got.timestamp == ts
    assert got.timestamp.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(got.transaction["timestamp"]) == ts


def _same_number(value: Any) -> Any:
    """PostgreSQL's JSONB reads 1e+16 back as the integer 10000000000000000: same value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20),
)


@DB_SETTINGS
@given(
    extra=st.dictionaries(
        st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
            min_size=1,
            max_size=12,
        ).filter(lambda k: k not in {"transaction_id", "timestamp", "card_id", "amount"}),
        _json_scalars,
        max_size=6,
    ),
    reasons=st.lists(
        st.dictionaries(st.sampled_from(["feature", "value"]), _json_scalars), max_size=3
    ),
)
def test_transaction_json_round_trips(
    store: Store, extra: dict[str, Any], reasons: list[dict[str, Any]]
) -> None:
    """Check that every field of the transaction and the reasons are read back unchanged."""
    tx_id = f"json-{next(_ids)}"
    # merged after make_tx, not passed to it: a generated key such as "at" or "card" is an
    # extra field of the transaction, not make_tx's timestamp or card parameter
    store.record_decision(
        {**make_tx(tx_id), **extra}, score=0.3, decision="allow", model_version="v", reasons=reasons
    )
    got = store.get_decision(tx_id)
    assert {k: _same_number(got.transaction[k]) for k in extra} == {
        k: _same_number(v) for k, v in extra.items()
    }
    assert [{k: _same_number(v) for k, v in r.items()} for r in got.reasons] == [
        {k: _same_number(v) for k, v in r.items()} for r in reasons
    ]
    assert (
        store.record_decision(
            make_tx(tx_id), score=0.3, decision="allow", model_version="v"
        ).decision
        == got
    )


def test_recent_decisions_for_card_newest_first(store: Store) -> None:
    """Check that a card's history is its own transactions, newest first, limited."""
    for i in range(5):
        store.record_decision(
            make_tx(f"c1-{i}", card="c1", at=T0 + timedelta(minutes=i)),
            score=0.1,
            decision="allow",
            model_version="v",
        )
    store.record_decision(
        make_tx("c2-0", card="c2"), score=0.1, decision="allow", model_version="v"
    )
    recent = store.recent_decisions_for_card("c1", limit=3)
    assert [d.transaction_id for d in recent] == ["c1-4", "c1-3", "c1-2"]
    before = store.recent_decisions_for_card("c1", before=T0 + timedelta(minutes=2))
    assert [d.transaction_id for d in before] == ["c1-1", "c1-0"]
    assert store.recent_decisions_for_card("unknown") == []


def test_recent_decisions_bad_limit_is_refused(store: Store) -> None:
    """Check that a page size out of range names the allowed range."""
    with pytest.raises(ConfigError, match="limit must be an integer from 1 to 1000"):
        store.recent_decisions_for_card("c1", limit=0)
