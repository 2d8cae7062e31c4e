"""The whole API flow against PostgreSQL and Redis, and concurrency on one card in-process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from serving_helpers import DECLINE_AMOUNT, PG_ADMIN_URL, REVIEW_AMOUNT, running

from fraudwatch.serving import TransactionIn
from fraudwatch.store import Store

pytestmark = pytest.mark.anyio

Tx = Callable[..., dict[str, Any]]


async def _full_flow(app: FastAPI, fresh_tx: Tx) -> dict[str, Any]:
    """Score, retry, list and open a case, give feedback, resolve another case."""
    a, b = fresh_tx(amount=REVIEW_AMOUNT), fresh_tx(amount=DECLINE_AMOUNT)
    async with running(app) as client:
        first = (await client.post("/v1/score", json=a)).json()
        retry = (await client.post("/v1/score", json=a)).json()
        batch = (await client.post("/v1/score/batch", json={"transactions": [b]})).json()
        listed = (await client.get("/v1/cases", params={"status": "open"})).json()
        detail = (await client.get(f"/v1/cases/{first['case_id']}")).json()
        fb = await client.post(
            "/v1/feedback",
            json={"transaction_id": a["transaction_id"], "label": "fraud", "source": "analyst"},
        )
        case_b = batch["results"][0]["case_id"]
        resolved = await client.post(f"/v1/cases/{case_b}/resolve", json={"resolution": "legit"})
        ready = await client.get("/readyz")
    return {
        "first": first,
        "retry": retry,
        "batch": batch,
        "listed": listed,
        "detail": detail,
        "feedback": fb.status_code,
        "resolved": resolved.json(),
        "ready": ready.json(),
    }


def _check_flow(out: dict[str, Any]) -> None:
    assert out["first"]["decision"] == "review"
    assert out["retry"]["replayed"] is True
    assert out["retry"]["score"] == out["first"]["score"]
    assert out["batch"]["results"][0]["decision"] == "decline"
    assert len(out["listed"]["cases"]) == 2
    assert out["detail"]["transaction"]["transaction_id"] == out["first"]["transaction_id"]
    assert out["feedback"] == 200
    assert out["resolved"]["resolution"] == "legit"
    assert out["ready"]["status"] == "ready"


@pytest.mark.postgres
async def test_full_flow_on_postgresql(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, pg_url: str, store_at: Callable[[str], Store]
) -> None:
    """Check every endpoint of the flow against the real PostgreSQL server."""
    out = await _full_flow(app_factory(database_url=pg_url), fresh_tx)
    _check_flow(out)
    stored = store_at(pg_url).find_decision(out["first"]["transaction_id"])
    assert stored is not None
    assert stored.score == out["first"]["score"]


@pytest.mark.redis
@pytest.mark.postgres
async def test_full_flow_on_redis_state_and_postgresql(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    pg_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """Check the flow with the feature state in Redis and decisions in PostgreSQL."""
    app = app_factory(database_url=pg_url, state=redis_url, state_prefix=redis_prefix)
    out = await _full_flow(app, fresh_tx)
    _check_flow(out)
    assert out["ready"]["checks"]["state_store"] == "ok"


@pytest.mark.redis
async def test_readyz_reports_redis_down(
    app_factory: Callable[..., FastAPI], redis_prefix: str
) -> None:
    """Check that readiness is 503 naming the state store when Redis does not answer."""
    app = app_factory(state="redis://127.0.0.1:1/0", state_prefix=redis_prefix)
    async with running(app) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["state_store"].startswith("failed")


@pytest.mark.redis
async def test_score_with_redis_down_is_503(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Check that scoring with the state store down is a 503, logged under its request id."""
    app = app_factory(state="redis://127.0.0.1:1/0", state_prefix=redis_prefix)
    async with running(app) as client:
        with caplog.at_level(logging.ERROR, logger="fraudwatch"):
            r = await client.post("/v1/score", json=fresh_tx())
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    err = r.json()["error"]
    assert err["code"] == "service_unavailable"
    assert "Traceback" not in r.text
    logged = [x for x in caplog.records if getattr(x, "request_id", None) == err["request_id"]]
    assert logged, "the 5xx is logged with the request id the client received"


@pytest.mark.postgres
async def test_readyz_reports_postgresql_down(
    app_factory: Callable[..., FastAPI], pg_url: str
) -> None:
    """Check that readiness turns 503 naming the database when PostgreSQL goes away."""
    import psycopg

    app = app_factory(database_url=pg_url)
    async with running(app) as client:
        ready = await client.get("/readyz")
        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        down = await client.get("/readyz")
    assert ready.status_code == 200
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"].startswith("failed")
    assert body["checks"]["model"] == "ok"


@pytest.mark.parametrize("state", ["memory", "redis"])
async def test_parallel_requests_for_one_card_all_count(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    redis_url: str,
    redis_prefix: str,
    state: str,
) -> None:
    """Check that concurrent requests for one card are all counted in its features."""
    changes = {"state": redis_url, "state_prefix": redis_prefix} if state == "redis" else {}
    app = app_factory(explain="none", **changes)
    card = f"card-concurrent-{state}"
    n = 40
    txs = [fresh_tx(card_id=card, timestamp=f"2024-05-01T10:00:{i:02d}Z") for i in range(n)]
    async with running(app) as client:
        responses = await asyncio.gather(*(client.post("/v1/score", json=tx) for tx in txs))
        probe = TransactionIn.model_validate(
            fresh_tx(card_id=card, timestamp="2024-05-01T10:30:00Z")
        ).model_dump()
        feats = app.state.service.scorer.features_one(probe)
    assert [r.status_code for r in responses] == [200] * n
    assert feats["tx_count_card_1h"] == n


async def test_concurrent_duplicates_scored_once(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that the same transaction sent many times at once is scored and counted once."""
    app = app_factory(explain="none")
    tx = fresh_tx(card_id="card-dup", timestamp="2024-05-01T10:00:00Z")
    async with running(app) as client:
        responses = await asyncio.gather(*(client.post("/v1/score", json=tx) for _ in range(10)))
        probe = TransactionIn.model_validate(
            fresh_tx(card_id="card-dup", timestamp="2024-05-01T10:10:00Z")
        ).model_dump()
        feats = app.state.service.scorer.features_one(probe)
    bodies = [r.json() for r in responses]
    assert sum(not b["replayed"] for b in bodies) == 1
    assert len({b["score"] for b in bodies}) == 1
    assert feats["tx_count_card_1h"] == 1


def _history_snapshot(simulated: Any, registry_root: str, tmp_path: Any) -> tuple[Any, str]:
    """The simulated history in time order and a snapshot of it for the champion's features."""
    from fraudwatch.features import build_snapshot
    from fraudwatch.registry import Registry
    from fraudwatch.scoring import bundle_feature_set

    history = simulated.sort("timestamp")
    fs = bundle_feature_set(Registry(registry_root).get("champion"))
    return history, str(build_snapshot(fs, history).save(tmp_path / "snapshot"))


async def _card_count_30d(app: FastAPI, fresh_tx: Tx, last: dict[str, Any]) -> float:
    """``tx_count_card_30d`` the running ``app`` sees for ``last``'s card at its time."""
    async with running(app) as client:
        await client.get("/healthz")
        probe = TransactionIn.model_validate(
            fresh_tx(card_id=last["card_id"], timestamp=last["timestamp"].isoformat())
        ).model_dump()
        return float(app.state.service.scorer.features_one(probe)["tx_count_card_30d"])


def _count_30d(history: Any, last: dict[str, Any]) -> int:
    """The card's transactions in the 30 days before ``last``, counted from the history."""
    import polars as pl

    return history.filter(
        (pl.col("card_id") == last["card_id"])
        & (pl.col("timestamp") > last["timestamp"] - timedelta(days=30))
    ).height


async def test_snapshot_starts_the_service_warm(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    simulated: Any,
    registry_root: str,
    tmp_path: Any,
) -> None:
    """Check that with a snapshot of history a known card's features include its past."""
    history, snapshot = _history_snapshot(simulated, registry_root, tmp_path)
    last = history.tail(1).row(0, named=True)
    expected = _count_30d(history, last)
    cold = await _card_count_30d(app_factory(), fresh_tx, last)
    warm = await _card_count_30d(app_factory(snapshot_path=snapshot), fresh_tx, last)
    assert cold == 0
    assert warm == expected


@pytest.mark.redis
async def test_snapshot_loaded_once_for_workers_warms_redis_state(
    make_config: Callable[..., Any],
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    simulated: Any,
    registry_root: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Any,
) -> None:
    """Check that the snapshot the parent loads before starting workers reaches their state."""
    from fraudwatch.serving._server import _load_snapshot_once

    history, snapshot = _history_snapshot(simulated, registry_root, tmp_path)
    last = history.tail(1).row(0, named=True)
    shared = {"state": redis_url, "state_prefix": redis_prefix}
    _load_snapshot_once(make_config(snapshot_path=snapshot, workers=2, **shared))
    app = app_factory(**shared)  # a worker: no snapshot of its own
    warm = await _card_count_30d(app, fresh_tx, last)
    expected = _count_30d(history, last)
    assert expected >= 1
    assert warm == expected
