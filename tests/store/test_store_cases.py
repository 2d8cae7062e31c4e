"""Contract tests of cases: listing with cursors, details, resolution (SQLite and PG)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import T0, FakeClock, make_tx

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.store import CaseConflictError, Store

_ids = itertools.count()


def _open_cases(store: Store, n: int, *, prefix: str = "tx", card: str = "card-1") -> list[int]:
    ids = []
    for i in range(n):
        result = store.record_decision(
            make_tx(f"{prefix}{i}", card=card, at=T0 + timedelta(seconds=i)),
            score=0.8,
            decision="review",
            model_version="v1",
        )
        assert result.case_id is not None
        ids.append(result.case_id)
    return ids


def _all_pages(store: Store, **kwargs: object) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = store.list_cases(cursor=cursor, **kwargs)  # type: ignore[arg-type]
        seen.extend(c.id for c in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_list_cases_pages_through_every_case_once(store: Store) -> None:
    """Check that paging with the cursor returns every case once, oldest first."""
    ids = _open_cases(store, 7)
    assert _all_pages(store, limit=3) == ids
    assert _all_pages(store, limit=3, newest_first=True) == ids[::-1]


def test_list_cases_last_page_has_no_cursor(store: Store) -> None:
    """Check that a page that ends the listing carries no next cursor."""
    _open_cases(store, 2)
    page = store.list_cases(limit=2)
    assert len(page.items) == 2
    assert page.next_cursor is None


def test_list_cases_filters_by_status(store: Store) -> None:
    """Check that status= keeps only open or only resolved cases."""
    ids = _open_cases(store, 4)
    store.resolve_case(ids[1], "fraud", actor="ana")
    assert [c.id for c in store.list_cases("open").items] == [ids[0], ids[2], ids[3]]
    resolved = store.list_cases("resolved").items
    assert [(c.id, c.resolution, c.resolved_by) for c in resolved] == [(ids[1], "fraud", "ana")]


def test_list_cases_carries_decision_summary(store: Store) -> None:
    """Check that a listed case shows its decision, score, card and amount."""
    store.record_decision(
        make_tx("t1", card="c9", amount=99.5), score=0.97, decision="decline", model_version="v"
    )
    (case,) = store.list_cases().items
    assert (case.decision, case.score, case.card_id, case.amount) == ("decline", 0.97, "c9", 99.5)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.integers(min_value=0, max_value=8),
    limit=st.integers(min_value=1, max_value=4),
    arrivals=st.lists(st.integers(min_value=0, max_value=3), max_size=6),
    newest_first=st.booleans(),
    same_time=st.booleans(),
)
def test_pagination_while_cases_arrive(
    store: Store,
    clock: FakeClock,
    initial: int,
    limit: int,
    arrivals: list[int],
    newest_first: bool,
    same_time: bool,
) -> None:
    """Check that cases opened while paging never cause a duplicate or skip an older case."""
    clock.step = timedelta(0) if same_time else timedelta(milliseconds=1)  # ties on opened_at
    run = next(_ids)
    existing = set(_open_cases(store, initial, prefix=f"r{run}-old-"))
    before = {c.id for c in store.list_cases(limit=1000).items}
    seen: list[int] = []
    cursor = None
    for page_no in itertools.count():
        page = store.list_cases(limit=limit, cursor=cursor, newest_first=newest_first)
        seen.extend(c.id for c in page.items)
        keys = [(c.opened_at, c.id) for c in page.items]
        assert keys == sorted(keys, reverse=newest_first)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        n_new = arrivals[page_no] if page_no < len(arrivals) else 0
        _open_cases(store, n_new, prefix=f"r{run}-new{page_no}-")
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    assert existing <= set(seen)


def test_garbage_cursor_is_refused(store: Store) -> None:
    """Check that a cursor that was not made by the store is refused with the fix."""
    with pytest.raises(ConfigError, match=r"invalid cursor.*next_cursor of the previous page"):
        store.list_cases(cursor="not-a-cursor!")


def test_cursor_from_other_filters_is_refused(store: Store) -> None:
    """Check that a cursor made for status=open cannot continue a resolved listing."""
    _open_cases(store, 3)
    cursor = store.list_cases("open", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(ConfigError, match="made for other filters"):
        store.list_cases("resolved", limit=1, cursor=cursor)


def test_unknown_status_is_refused(store: Store) -> None:
    """Check that an unknown status names the allowed ones."""
    with pytest.raises(ConfigError, match="status must be one of open, resolved; got 'closed'"):
        store.list_cases("closed")


def test_get_case_shows_decision_history_and_feedback(store: Store) -> None:
    """Check that a case's details hold its decision, the card's earlier ones, and feedback."""
    for i in range(4):
        store.record_decision(
            make_tx(f"h{i}", card="c1", at=T0 - timedelta(hours=4 - i)),
            score=0.1,
            decision="allow",
            model_version="v",
        )
    later = T0 + timedelta(hours=1)
    store.record_decision(
        make_tx("later", card="c1", at=later), score=0.1, decision="allow", model_version="v"
    )
    store.record_decision(
        make_tx("other", card="c2"), score=0.1, decision="allow", model_version="v"
    )
    result = store.record_decision(
        make_tx("case-tx", card="c1"),
        score=0.9,
        decision="review",
        model_version="v",
        reasons=["amount"],
    )
    assert result.case_id is not None
    store.add_feedback("case-tx", "fraud", "customer", actor="cust-portal", note="not me")
    detail = store.get_case(result.case_id, history=3)
    assert detail.decision.transaction_id == "case-tx"
    assert detail.decision.reasons == ["amount"]
    assert [d.transaction_id for d in detail.card_history] == ["h3", "h2", "h1"]
    assert [(f.label, f.source, f.note) for f in detail.feedback] == [
        ("fraud", "customer", "not me")
    ]
    assert detail.case.status == "resolved"


def test_get_unknown_case_raises_not_found(store: Store) -> None:
    """Check that an unknown case id raises NotFoundError."""
    with pytest.raises(NotFoundError, match="case 12345 does not exist"):
        store.get_case(12345)


def test_resolve_case_records_who_when_and_audits(store: Store, clock: FakeClock) -> None:
    """Check that resolving sets status, resolution, actor, time, note and writes an audit entry."""
    (case_id,) = _open_cases(store, 1)
    at = T0 + timedelta(days=1)
    case = store.resolve_case(case_id, "legit", actor="ana", note="called the customer", at=at)
    assert (case.status, case.resolution, case.resolved_by, case.resolved_at, case.note) == (
        "resolved",
        "legit",
        "ana",
        at,
        "called the customer",
    )
    entries = store.list_audit(target=f"case:{case_id}").items
    assert [(e.action, e.actor, e.at) for e in entries] == [("case.resolve", "ana", at)]
    assert entries[0].details["resolution"] == "legit"


def test_resolving_again_the_same_way_is_a_no_op(store: Store) -> None:
    """Check that a repeated identical resolution changes nothing and is not audited twice."""
    (case_id,) = _open_cases(store, 1)
    first = store.resolve_case(case_id, "fraud", actor="ana")
    again = store.resolve_case(case_id, "fraud", actor="bob", note="dup")
    assert again == first
    assert len(store.list_audit(action="case.resolve").items) == 1


def test_resolving_differently_is_a_conflict(store: Store) -> None:
    """Check that contradicting a resolution raises CaseConflictError naming the first one."""
    (case_id,) = _open_cases(store, 1)
    store.resolve_case(case_id, "fraud", actor="ana")
    with pytest.raises(
        CaseConflictError, match=r"already resolved as .fraud. by ana.*submit feedback"
    ):
        store.resolve_case(case_id, "legit", actor="bob")
    assert store.get_case(case_id).case.resolution == "fraud"


def test_resolve_unknown_case_raises_not_found(store: Store) -> None:
    """Check that resolving a case that does not exist raises NotFoundError."""
    with pytest.raises(NotFoundError, match="case 999 does not exist"):
        store.resolve_case(999, "fraud", actor="ana")


def test_resolve_with_bad_resolution_is_refused(store: Store) -> None:
    """Check that a resolution other than fraud/legit names the allowed values."""
    (case_id,) = _open_cases(store, 1)
    with pytest.raises(ConfigError, match="resolution must be one of fraud, legit"):
        store.resolve_case(case_id, "maybe", actor="ana")


def test_resolve_without_actor_is_refused(store: Store) -> None:
    """Check that a resolution must say who made it."""
    (case_id,) = _open_cases(store, 1)
    with pytest.raises(ConfigError, match="actor must be a non-empty string"):
        store.resolve_case(case_id, "fraud", actor=" ")


def test_case_for_transaction_finds_the_case(store: Store) -> None:
    """Check that a transaction's case is found by its id, and an allowed one has none."""
    (case_id,) = _open_cases(store, 1)
    store.record_decision(make_tx("ok"), score=0.1, decision="allow", model_version="v")
    found = store.case_for_transaction("tx0")
    assert found is not None
    assert found.id == case_id
    assert store.case_for_transaction("ok") is None
