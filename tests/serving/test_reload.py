"""Tests of GET /v1/models and POST /v1/models/reload (swap with no failed request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from serving_helpers import running

from fraudwatch.registry import Registry

pytestmark = pytest.mark.anyio

Tx = Callable[..., dict[str, Any]]


async def test_reload_under_load_drops_nothing(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    two_version_registry: tuple[str, str, str],
) -> None:
    """Check that requests sent before, during and after a reload all succeed."""
    root, old, new = two_version_registry
    app = app_factory(registry=root, explain="none")
    answers: list[tuple[int, str | None]] = []
    reloaded = asyncio.Event()
    async with running(app) as client:

        async def one() -> None:
            r = await client.post("/v1/score", json=fresh_tx())
            version = r.json().get("model_version") if r.status_code == 200 else None
            answers.append((r.status_code, version))

        async def load() -> None:
            # 8 requests in flight at all times until the reload is over, then 5 more rounds
            rounds_after = 0
            while rounds_after < 5:
                await asyncio.gather(*(one() for _ in range(8)))
                if reloaded.is_set():
                    rounds_after += 1

        Registry(root).promote(new, "champion", at=datetime(2024, 6, 3, tzinfo=UTC))
        load_task = asyncio.ensure_future(load())
        while len(answers) < 16:  # the load is running before the reload starts
            await asyncio.sleep(0.005)
        before = len(answers)
        reload = await client.post("/v1/models/reload")
        during = len(answers) - before
        reloaded.set()
        await load_task
        models = (await client.get("/v1/models")).json()
    assert reload.status_code == 200
    assert reload.json() == {"previous_version": old, "model_version": new, "reloaded": True}
    assert [status for status, _ in answers] == [200] * len(answers)
    versions = [v for _, v in answers]
    assert (versions[0], versions[-1]) == (old, new), "the load spanned the swap"
    # once a request saw the new model, no later-finishing request fell back to the old one
    # except those already in flight at the swap (at most one round of 8)
    first_new = versions.index(new)
    assert versions[first_new + 8 :].count(old) == 0
    assert during > 0, "requests were answered while the new model was being loaded"
    assert models["model_version"] == new


async def test_reload_keeps_card_state(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    two_version_registry: tuple[str, str, str],
) -> None:
    """Check that the new model sees the card history recorded before the reload."""
    root, _, new = two_version_registry
    app = app_factory(registry=root)
    card = "card-reload"
    async with running(app) as client:
        for i in range(3):
            await client.post(
                "/v1/score", json=fresh_tx(card_id=card, timestamp=f"2024-05-01T10:0{i}:00Z")
            )
        Registry(root).promote(new, "champion", at=datetime(2024, 6, 3, tzinfo=UTC))
        assert (await client.post("/v1/models/reload")).status_code == 200
        scorer = app.state.service.scorer
        from fraudwatch.serving._schemas import TransactionIn

        probe = TransactionIn.model_validate(
            fresh_tx(card_id=card, timestamp="2024-05-01T10:05:00Z")
        ).model_dump()
        feats = scorer.features_one(probe)
    assert scorer.model_version == new
    assert feats["tx_count_card_1h"] == 3


async def test_reload_with_broken_champion_is_409(
    app_factory: Callable[..., FastAPI],
    two_version_registry: tuple[str, str, str],
) -> None:
    """Check that a champion that fails verification is refused and the old model serves on."""
    root, old, new = two_version_registry
    app = app_factory(registry=root)
    async with running(app) as client:
        Registry(root).promote(new, "champion", at=datetime(2024, 6, 3, tzinfo=UTC))
        from pathlib import Path

        model_file = next(
            p for p in (Path(root) / "versions" / new).iterdir() if p.name != "manifest.json"
        )
        model_file.write_bytes(model_file.read_bytes() + b"tampered")
        r = await client.post("/v1/models/reload")
        still = (await client.get("/v1/models")).json()["model_version"]
    assert r.status_code == 409
    assert old in r.json()["error"]["message"]
    assert still == old


async def test_reload_same_champion_reports_no_change(app_factory: Callable[..., FastAPI]) -> None:
    """Check that reloading an unchanged champion says reloaded: false."""
    async with running(app_factory()) as client:
        body = (await client.post("/v1/models/reload")).json()
    assert body["reloaded"] is False
    assert body["previous_version"] == body["model_version"]


@pytest.mark.redis
async def test_reload_reaches_other_workers(
    app_factory: Callable[..., FastAPI],
    two_version_registry: tuple[str, str, str],
    redis_url: str,
    redis_prefix: str,
) -> None:
    """Check that a reload asked of one worker is followed by another sharing the Redis state."""
    root, old, new = two_version_registry
    shared = {
        "registry": root,
        "state": redis_url,
        "state_prefix": redis_prefix,
        "reload_poll_seconds": 0.1,
    }
    worker_a, worker_b = app_factory(**shared), app_factory(**shared)
    async with running(worker_a) as a, running(worker_b) as b:
        await asyncio.sleep(0.3)  # both watchers have read the current generation
        Registry(root).promote(new, "champion", at=datetime(2024, 6, 3, tzinfo=UTC))
        assert (await a.post("/v1/models/reload")).json()["model_version"] == new
        seen = old
        for _ in range(50):
            seen = (await b.get("/v1/models")).json()["model_version"]
            if seen == new:
                break
            await asyncio.sleep(0.1)
    assert seen == new
