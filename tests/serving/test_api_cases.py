"""Tests of feedback, cases, models and the operational endpoints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from serving_helpers import ALLOW_AMOUNT, DECLINE_AMOUNT, REVIEW_AMOUNT, running

from fraudwatch.registry import Registry
from fraudwatch.serving._schemas import TransactionIn
from fraudwatch.store import Store

pytestmark = pytest.mark.anyio

Tx = Callable[..., dict[str, Any]]


async def test_feedback_stored_and_resolves_case(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    sqlite_url: str,
    store_at: Callable[[str], Store],
) -> None:
    """Check that feedback is stored for training and resolves the transaction's case."""
    tx = fresh_tx(amount=DECLINE_AMOUNT)
    async with running(app_factory()) as client:
        scored = (await client.post("/v1/score", json=tx)).json()
        r = await client.post(
            "/v1/feedback",
            json={
                "transaction_id": tx["transaction_id"],
                "label": "fraud",
                "source": "chargeback",
                "note": "disputed",
            },
        )
        case = (await client.get(f"/v1/cases/{scored['case_id']}")).json()
    assert r.status_code == 200
    assert (r.json()["label"], r.json()["source"]) == ("fraud", "chargeback")
    assert (case["status"], case["resolution"]) == ("resolved", "fraud")
    labelled = store_at(sqlite_url).labelled_transactions()
    assert labelled["transaction_id"].to_list() == [tx["transaction_id"]]
    assert labelled["is_fraud"].to_list() == [1]


async def test_feedback_feeds_label_delayed_features(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a fraud label raises the terminal's fraud rate seen by later transactions."""
    first = fresh_tx(terminal_id="T-LABEL", amount=40.0, timestamp="2024-05-01T10:00:00Z")
    t0 = datetime(2024, 5, 1, 10, tzinfo=UTC)
    app = app_factory(clock=lambda: t0 + timedelta(days=1))  # the label arrives a day later
    name = "fraud_rate_terminal_30d_delay2d"
    async with running(app) as client:
        await client.post("/v1/score", json=first)
        scorer = app.state.service.scorer
        assert name in scorer.bundle.feature_names

        def probe(i: int) -> float:
            ts = (t0 + timedelta(days=5, seconds=i)).isoformat()
            tx = fresh_tx(terminal_id="T-LABEL", timestamp=ts)
            return float(scorer.features_one(TransactionIn.model_validate(tx).model_dump())[name])

        before = probe(0)
        r = await client.post(
            "/v1/feedback",
            json={
                "transaction_id": first["transaction_id"],
                "label": "fraud",
                "source": "chargeback",
            },
        )
        assert r.status_code == 200
        after = probe(1)
    assert after > before


async def test_case_listing_pages_without_repeats(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that paging through open cases with the cursor returns each case once."""
    async with running(app_factory()) as client:
        txs = [fresh_tx(amount=REVIEW_AMOUNT) for _ in range(5)] + [fresh_tx(amount=ALLOW_AMOUNT)]
        await client.post("/v1/score/batch", json={"transactions": txs})
        seen: list[int] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"status": "open", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/cases", params=params)).json()
            seen += [c["case_id"] for c in page["cases"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 5
    assert pages == 3


async def test_bad_cursor_is_422(app_factory: Callable[..., FastAPI]) -> None:
    """Check that a tampered cursor is a 422 naming the cursor."""
    async with running(app_factory()) as client:
        r = await client.get("/v1/cases", params={"cursor": "garbage"})
    assert r.status_code == 422
    assert "cursor" in r.json()["error"]["message"]


async def test_case_detail_has_card_history(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a case shows its transaction, reasons and the card's earlier transactions."""
    card = "card-history-1"
    txs = [
        fresh_tx(card_id=card, amount=20.0 + i, timestamp=f"2024-05-0{i + 1}T10:00:00Z")
        for i in range(3)
    ]
    flagged = fresh_tx(card_id=card, amount=REVIEW_AMOUNT, timestamp="2024-05-05T10:00:00Z")
    async with running(app_factory()) as client:
        await client.post("/v1/score/batch", json={"transactions": [*txs, flagged]})
        case_id = (await client.post("/v1/score", json=flagged)).json()["case_id"]
        detail = (await client.get(f"/v1/cases/{case_id}")).json()
    assert detail["transaction"]["transaction_id"] == flagged["transaction_id"]
    assert detail["reasons"]
    recent = [t["transaction_id"] for t in detail["recent_transactions"]]
    assert recent == [t["transaction_id"] for t in reversed(txs)]


async def test_resolve_case_records_label_once(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    sqlite_url: str,
    store_at: Callable[[str], Store],
) -> None:
    """Check that resolving stores one analyst label, a repeat is a no-op, a change a 409."""
    tx = fresh_tx(amount=REVIEW_AMOUNT)
    async with running(app_factory()) as client:
        case_id = (await client.post("/v1/score", json=tx)).json()["case_id"]
        first = await client.post(f"/v1/cases/{case_id}/resolve", json={"resolution": "legit"})
        again = await client.post(f"/v1/cases/{case_id}/resolve", json={"resolution": "legit"})
        other = await client.post(f"/v1/cases/{case_id}/resolve", json={"resolution": "fraud"})
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409)
    assert first.json()["status"] == "resolved"
    detail = store_at(sqlite_url).get_case(case_id)
    assert [(f.label, f.source) for f in detail.feedback] == [("legit", "analyst")]


async def test_models_shows_manifest(
    app_factory: Callable[..., FastAPI], registry_root: str
) -> None:
    """Check that GET /v1/models returns the champion's manifest."""
    async with running(app_factory()) as client:
        body = (await client.get("/v1/models")).json()
    assert body["model_version"] == Registry(registry_root).resolve("champion")
    assert body["manifest"]["version"] == body["model_version"]


async def test_healthz_and_readyz(app_factory: Callable[..., FastAPI]) -> None:
    """Check that liveness and readiness answer 200 with every check ok."""
    async with running(app_factory()) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"model", "database", "state_store"}


async def test_readyz_reports_database_down(app_factory: Callable[..., FastAPI]) -> None:
    """Check that readiness is 503 naming the database when it stops answering."""
    app = app_factory()
    async with running(app) as client:
        app.state.service.store.engine.dispose()
        import sqlalchemy

        # point the engine at a path that cannot be opened
        app.state.service.store._engine = sqlalchemy.create_engine(
            "sqlite:////nonexistent/dir/x.db"
        )
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("failed")


async def test_metrics_count_decisions_and_errors(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that /metrics counts decisions by outcome, errors by kind and the model version."""
    async with running(app_factory()) as client:
        await client.post("/v1/score", json=fresh_tx(amount=DECLINE_AMOUNT))
        await client.post("/v1/score", json=fresh_tx(amount=DECLINE_AMOUNT))
        await client.post("/v1/score", json=fresh_tx(amount=-1))
        text = (await client.get("/metrics")).text
    assert 'fraudwatch_decisions_total{decision="decline"} 2.0' in text
    assert "fraudwatch_score_count 2.0" in text
    assert 'fraudwatch_errors_total{kind="validation_error"} 1.0' in text
    assert "fraudwatch_model_info{version=" in text
    latency = 'fraudwatch_http_request_duration_seconds_count{method="POST",route="/v1/score"'
    assert f'{latency},status="200"}} 2.0' in text
    assert 'fraudwatch_stage_seconds_count{stage="persistence"} 2.0' in text
