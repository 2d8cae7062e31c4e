"""Single-transaction requests received together are decided as one group."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from serving_helpers import running

from fraudwatch.errors import FeatureError

pytestmark = pytest.mark.anyio

Tx = Callable[..., dict[str, Any]]


def _one_card_stream(fresh_tx: Tx, n: int) -> list[dict[str, Any]]:
    """``n`` transactions of one card a minute apart (each one's features depend on the last)."""
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    card = f"card-{fresh_tx()['transaction_id']}"
    return [
        fresh_tx(card_id=card, timestamp=(start + timedelta(minutes=i)).isoformat())
        for i in range(n)
    ]


def _group_sizes(text: str) -> tuple[float, float]:
    """(groups, requests in them) from the ``fraudwatch_score_group_size`` histogram."""
    count = re.search(r"fraudwatch_score_group_size_count (\S+)", text)
    total = re.search(r"fraudwatch_score_group_size_sum (\S+)", text)
    return (float(count.group(1)) if count else 0.0, float(total.group(1)) if total else 0.0)


async def _together(client: httpx.AsyncClient, bodies: Sequence[Mapping[str, Any]]) -> list[Any]:
    return list(await asyncio.gather(*(client.post("/v1/score", json=b) for b in bodies)))


async def test_requests_sent_together_are_grouped_and_score_as_one_by_one(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that concurrent requests form groups and get what one-by-one requests get."""
    stream = _one_card_stream(fresh_tx, 8)
    async with running(app_factory()) as client:
        together = await _together(client, stream)
        text = (await client.get("/metrics")).text
        stored = [(await client.post("/v1/score", json=b)).json() for b in stream]
    groups, grouped = _group_sizes(text)
    assert grouped == 8
    assert groups < 8  # at least one group held several requests
    assert [r.status_code for r in together] == [200] * 8
    assert all(s["replayed"] for s in stored)  # each was stored once, under its own id
    assert [s["score"] for s in stored] == [r.json()["score"] for r in together]
    # the same stream, one request after another, on a fresh service (new ids, new state)
    again = [{**b, "transaction_id": b["transaction_id"] + "-seq"} for b in stream]
    async with running(app_factory()) as client:
        one_by_one = [(await client.post("/v1/score", json=b)).json() for b in again]
    for g, s in zip(together, one_by_one, strict=True):
        body = g.json()
        assert (body["score"], body["decision"], body["reasons"]) == (
            s["score"],
            s["decision"],
            s["reasons"],
        )


async def test_micro_batch_of_one_decides_each_alone(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that ``micro_batch=1`` turns grouping off."""
    async with running(app_factory(micro_batch=1)) as client:
        answers = await _together(client, _one_card_stream(fresh_tx, 5))
        text = (await client.get("/metrics")).text
    assert [r.status_code for r in answers] == [200] * 5
    assert _group_sizes(text) == (5.0, 5.0)


async def test_groups_are_capped_at_micro_batch(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that no group is larger than ``micro_batch``."""
    async with running(app_factory(micro_batch=3)) as client:
        answers = await _together(client, _one_card_stream(fresh_tx, 10))
        text = (await client.get("/metrics")).text
    assert [r.status_code for r in answers] == [200] * 10
    groups, grouped = _group_sizes(text)
    assert grouped == 10
    assert groups >= 4  # 10 requests in groups of at most 3
    upto4 = re.search(r'fraudwatch_score_group_size_bucket\{le="4.0"\} (\S+)', text)
    assert upto4 is not None
    assert float(upto4.group(1)) == groups  # every group in the bucket of 3 and 4


async def test_one_bad_transaction_fails_alone(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a transaction the features refuse fails its own request only."""
    app = app_factory()
    stream = _one_card_stream(fresh_tx, 5)
    bad_id = stream[2]["transaction_id"]
    async with running(app) as client:
        scorer = app.state.service.scorer
        score_one, score_many = scorer.score_one, scorer.score_many

        def refuse(tx: Mapping[str, Any]) -> None:
            if tx["transaction_id"] == bad_id:
                raise FeatureError(f"transaction {bad_id!r}: refused by the test")

        def one(tx: Mapping[str, Any]) -> Any:
            refuse(tx)
            return score_one(tx)

        def many(txs: Sequence[Mapping[str, Any]]) -> Any:
            for tx in txs:  # like the executor: every field is checked before any is recorded
                refuse(tx)
            return score_many(txs)

        scorer.score_one, scorer.score_many = one, many
        answers = await _together(client, stream)
        text = (await client.get("/metrics")).text
        assert _group_sizes(text)[0] < 5  # they were grouped
        statuses = [r.status_code for r in answers]
        assert statuses == [200, 200, 422, 200, 200]
        assert "refused by the test" in answers[2].json()["error"]["message"]
        scorer.score_one, scorer.score_many = score_one, score_many
        retried = [(await client.post("/v1/score", json=b)).json() for b in stream]
    assert [r["replayed"] for r in retried] == [True, True, False, True, True]


async def test_an_error_of_the_whole_group_reaches_every_request(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a failure of the scorer itself answers every request of the group (500)."""
    app = app_factory()
    async with running(app) as client:
        scorer = app.state.service.scorer

        def broken(txs: Any) -> Any:
            raise RuntimeError("model unavailable")

        scorer.score_many = broken
        answers = await _together(client, _one_card_stream(fresh_tx, 4))
    assert [r.status_code for r in answers] == [500] * 4
    assert all("model unavailable" not in r.text for r in answers)
