"""Single-transaction requests received together are decided as one group."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from serving_helpers import running

from fraudwatch.errors import FeatureError
from fraudwatch.serving._schemas import TransactionIn

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


def _metric(text: str, sample: str) -> float:
    m = re.search(re.escape(sample) + r" (\S+)", text)
    return float(m.group(1)) if m else 0.0


def _group_sizes(text: str) -> tuple[float, float]:
    """(groups, requests in them) from the ``fraudwatch_score_group_size`` histogram."""
    return (
        _metric(text, "fraudwatch_score_group_size_count"),
        _metric(text, "fraudwatch_score_group_size_sum"),
    )


async def _together(client: httpx.AsyncClient, bodies: Sequence[Mapping[str, Any]]) -> list[Any]:
    return list(await asyncio.gather(*(client.post("/v1/score", json=b) for b in bodies)))


@contextlib.contextmanager
def _refusing(app: FastAPI, bad_id: str) -> Iterator[None]:
    """The feature executor refuses ``bad_id`` as it refuses an unusable field: while
    checking a group, before recording any of it."""
    online = app.state.service.scorer._online
    prepare = online.prepare_many

    def refusing(txs: Sequence[Mapping[str, Any]]) -> Any:
        txs = list(txs)
        if any(tx["transaction_id"] == bad_id for tx in txs):
            raise FeatureError(f"transaction {bad_id!r}: refused by the test")
        return prepare(txs)

    online.prepare_many = refusing
    try:
        yield
    finally:
        online.prepare_many = prepare


def _events(app: FastAPI) -> int:
    """Events held by the service's in-process feature state."""
    scorer = app.state.service.scorer
    return int(scorer.store.event_count(scorer._online.plan))


async def _events_one_by_one(
    app_factory: Callable[..., FastAPI], bodies: Sequence[Mapping[str, Any]]
) -> int:
    """Events a fresh service holds after ``bodies`` sent one by one (under new ids)."""
    app = app_factory()
    async with running(app) as client:
        for b in bodies:
            r = await client.post(
                "/v1/score", json={**b, "transaction_id": b["transaction_id"] + "-ref"}
            )
            assert r.status_code == 200
        return _events(app)


async def test_requests_sent_together_are_grouped_and_score_as_one_by_one(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that concurrent requests form groups and get what one-by-one requests get."""
    stream = _one_card_stream(fresh_tx, 8)
    app = app_factory()
    async with running(app) as client:
        scorer = app.state.service.scorer
        sizes: list[int] = []
        score_each = scorer.score_each

        def recording(txs: Sequence[Mapping[str, Any]]) -> Any:
            sizes.append(len(txs))
            return score_each(txs)

        scorer.score_each = recording
        together = await _together(client, stream)
        text = (await client.get("/metrics")).text
        stored = [(await client.post("/v1/score", json=b)).json() for b in stream]
    assert sum(sizes) == 8
    assert max(sizes) > 1  # the scorer got groups, not only single transactions
    assert _group_sizes(text) == (len(sizes), 8.0)
    assert _metric(text, 'fraudwatch_stage_seconds_count{stage="persistence"}') == 8
    assert _metric(text, 'fraudwatch_stage_seconds_count{stage="parse"}') == 8
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


@pytest.mark.parametrize(
    ("micro_batch", "sent", "at_most_one"),
    [(1, 5, 5), (2, 10, 0)],  # 1 turns grouping off; 2 caps ten requests at five groups of two
)
async def test_groups_are_capped_at_micro_batch(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, micro_batch: int, sent: int, at_most_one: int
) -> None:
    """Check that requests sent together make groups of exactly ``micro_batch``."""
    async with running(app_factory(micro_batch=micro_batch)) as client:
        answers = await _together(client, _one_card_stream(fresh_tx, sent))
        text = (await client.get("/metrics")).text
    assert [r.status_code for r in answers] == [200] * sent
    assert _group_sizes(text) == (5.0, float(sent))
    assert _metric(text, 'fraudwatch_score_group_size_bucket{le="1.0"}') == at_most_one
    assert _metric(text, 'fraudwatch_score_group_size_bucket{le="2.0"}') == 5


async def test_an_unusable_transaction_fails_alone_and_nothing_counts_twice(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a transaction the feature executor refuses fails its own request only,
    and that the others are recorded in the feature state once."""
    app = app_factory()
    stream = _one_card_stream(fresh_tx, 5)
    bad_id = stream[2]["transaction_id"]
    async with running(app) as client:
        with _refusing(app, bad_id):
            before = _events(app)
            answers = await _together(client, stream)
            text = (await client.get("/metrics")).text
            after = _events(app)
        retried = [(await client.post("/v1/score", json=b)).json() for b in stream]
    assert _group_sizes(text)[0] < 5  # they were grouped
    assert [r.status_code for r in answers] == [200, 200, 422, 200, 200]
    assert "refused by the test" in answers[2].json()["error"]["message"]
    good = [b for b in stream if b["transaction_id"] != bad_id]
    assert after - before == await _events_one_by_one(app_factory, good)  # each once
    assert [r["replayed"] for r in retried] == [True, True, False, True, True]


async def test_a_failure_after_the_features_fails_alone_and_the_rest_is_stored(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that an error in one transaction's decision (after every transaction of the
    group was recorded) fails that request only; the others are stored and replay."""
    app = app_factory()
    stream = _one_card_stream(fresh_tx, 6)
    bad_id = stream[3]["transaction_id"]
    async with running(app) as client:
        scorer = app.state.service.scorer
        decide = scorer._decide

        def failing(tx: Mapping[str, Any], *args: Any) -> Any:
            if tx["transaction_id"] == bad_id:
                raise ValueError("the model score is NaN")
            return decide(tx, *args)

        scorer._decide = failing
        before = _events(app)
        answers = await _together(client, stream)
        once = _events(app) - before
        assert _group_sizes((await client.get("/metrics")).text)[0] < 6  # they were grouped
        scorer._decide = decide
        retried = [(await client.post("/v1/score", json=b)).json() for b in stream]
        again = _events(app) - before
    assert [r.status_code for r in answers] == [200, 200, 200, 500, 200, 200]
    assert [r["replayed"] for r in retried] == [True, True, True, False, True, True]
    # all six were recorded once; of the retries only the failed one was recorded again
    assert once == await _events_one_by_one(app_factory, stream)
    assert 0 < again - once <= len(app.state.service.scorer._online.plan.specs)


async def test_an_error_of_the_whole_group_reaches_every_request(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a failure of the scorer itself answers every request of a group (500)."""
    app = app_factory()
    async with running(app) as client:
        scorer = app.state.service.scorer

        def broken(txs: Any) -> Any:
            raise RuntimeError("state store unavailable")

        scorer.score_each = broken
        answers = await _together(client, _one_card_stream(fresh_tx, 4))
        text = (await client.get("/metrics")).text
    assert _group_sizes(text)[0] < 4
    assert [r.status_code for r in answers] == [500] * 4
    assert all("state store unavailable" not in r.text for r in answers)


async def test_a_scorer_without_score_each_scores_one_at_a_time(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a scorer offering only ``score_one`` still serves grouped requests."""

    class OneAtATime:
        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self.model_version = inner.model_version
            self.manifest = inner.manifest
            self.calls = 0

        def score_one(self, tx: Mapping[str, Any]) -> Any:
            self.calls += 1
            return self._inner.score_one(tx)

        def add_label(self, transaction_id: str, label: int, known_at: datetime) -> object:
            return self._inner.add_label(transaction_id, label, known_at)

    app = app_factory()
    async with running(app) as client:
        svc = app.state.service
        plain = OneAtATime(svc.scorer)
        svc._scorer = plain
        answers = await _together(client, _one_card_stream(fresh_tx, 4))
        text = (await client.get("/metrics")).text
    assert _group_sizes(text)[0] < 4  # grouped, then scored one by one
    assert [r.status_code for r in answers] == [200] * 4
    assert plain.calls == 4


@pytest.mark.parametrize("turns", [1, 2, 3, 6])
async def test_cancelling_the_first_request_does_not_fail_the_others(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, turns: int
) -> None:
    """Check that the request leading a group can be cancelled: the group is still decided,
    stored and answered to the others."""
    app = app_factory()
    stream = _one_card_stream(fresh_tx, 4)
    async with running(app) as client:
        svc = app.state.service
        t0 = time.perf_counter()
        tasks = [
            asyncio.ensure_future(svc.score(TransactionIn.model_validate(b), t0)) for b in stream
        ]
        for _ in range(turns):  # 1: the first waits for the others to join; then deciding
            await asyncio.sleep(0)
        tasks[0].cancel()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        retried = [(await client.post("/v1/score", json=b)).json() for b in stream]
    assert isinstance(results[0], asyncio.CancelledError | dict)
    assert all(isinstance(r, dict) and r["decision"] for r in results[1:])
    assert [r["replayed"] for r in retried] == [True] * 4  # the leader's one was stored too


async def test_batch_call_stops_at_an_unusable_transaction(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that ``/v1/score/batch`` keeps its order: the items before an unusable one are
    stored, the ones after it are not scored, and the call fails."""
    app = app_factory()
    stream = _one_card_stream(fresh_tx, 5)
    bad_id = stream[1]["transaction_id"]
    async with running(app) as client:
        with _refusing(app, bad_id):
            failed = await client.post("/v1/score/batch", json={"transactions": stream})
        retried = await client.post("/v1/score/batch", json={"transactions": stream})
    assert failed.status_code == 422
    assert retried.status_code == 200
    assert [r["replayed"] for r in retried.json()["results"]] == [True, False, False, False, False]
