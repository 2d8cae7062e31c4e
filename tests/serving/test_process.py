"""Tests of ``fraudwatch serve`` as a real process: SIGKILL durability, workers with Redis.

These start uvicorn subprocesses on 127.0.0.1 and are marked slow.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from serving_helpers import ServerProcess

from fraudwatch.store import Store

pytestmark = pytest.mark.slow

Tx = Callable[..., dict[str, Any]]


def _hammer_then_kill(
    server: ServerProcess, fresh_tx: Tx, *, threads: int = 6, min_acks: int = 150
) -> dict[str, dict[str, Any]]:
    """Send transactions from several threads, SIGKILL the server mid-load.

    Returns the decisions whose responses were received before the kill.
    """
    acked: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=5.0) as http:
            while not stop.is_set():
                tx = fresh_tx()
                try:
                    r = http.post("/v1/score", json=tx)
                except httpx.HTTPError:
                    continue  # the server died under this request: no answer, no promise
                if r.status_code == 200:
                    with lock:
                        acked[tx["transaction_id"]] = r.json()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 60
    while len(acked) < min_acks and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.proc.pid, signal.SIGKILL)  # mid-load: requests are in flight
    server.proc.wait(10)
    stop.set()
    for w in workers:
        w.join(10)
    return acked


def _check_all_stored(store: Store, acked: dict[str, dict[str, Any]]) -> None:
    missing = [tid for tid in acked if store.find_decision(tid) is None]
    assert not missing, f"{len(missing)} acknowledged decisions lost, e.g. {missing[:3]}"
    for tid, body in acked.items():
        stored = store.find_decision(tid)
        assert stored is not None
        assert (stored.decision, stored.score) == (body["decision"], body["score"])


def test_sigkill_loses_no_returned_decision_sqlite(
    serve_process: Callable[..., ServerProcess],
    registry_root: str,
    sqlite_url: str,
    fresh_tx: Tx,
    store_at: Callable[[str], Store],
) -> None:
    """Check that after SIGKILL under load every decision a client received is in SQLite."""
    server = serve_process(
        "serve", "--registry", registry_root, "--db", sqlite_url, "--no-auth", "--explain", "none"
    )
    server.wait_ready()
    acked = _hammer_then_kill(server, fresh_tx)
    assert server.proc.returncode == -signal.SIGKILL
    assert len(acked) >= 150
    _check_all_stored(store_at(sqlite_url), acked)


@pytest.mark.postgres
def test_sigkill_loses_no_returned_decision_postgres(
    serve_process: Callable[..., ServerProcess],
    registry_root: str,
    pg_url: str,
    fresh_tx: Tx,
    store_at: Callable[[str], Store],
) -> None:
    """Check that after SIGKILL under load every decision a client received is in PostgreSQL."""
    server = serve_process(
        "serve", "--registry", registry_root, "--db", pg_url, "--no-auth", "--explain", "none"
    )
    server.wait_ready()
    acked = _hammer_then_kill(server, fresh_tx)
    assert len(acked) >= 150
    _check_all_stored(store_at(pg_url), acked)


@pytest.mark.redis
def test_two_workers_lose_no_update_of_one_card(
    serve_process: Callable[..., ServerProcess],
    registry_root: str,
    sqlite_url: str,
    redis_url: str,
    redis_prefix: str,
    fresh_tx: Tx,
) -> None:
    """Check that parallel requests for one card on two workers all count in its features."""
    server = serve_process(
        "serve",
        "--registry",
        registry_root,
        "--db",
        sqlite_url,
        "--no-auth",
        "--workers",
        "2",
        "--state",
        redis_url,
        "--state-prefix",
        redis_prefix,
        "--explain",
        "none",
    )
    server.wait_ready(90)
    card = "card-parallel"
    n = 48
    txs = [
        fresh_tx(card_id=card, timestamp=f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}Z")
        for i in range(n)
    ]

    def send(tx: dict[str, Any]) -> tuple[int, str]:
        with httpx.Client(base_url=server.url, timeout=10.0) as http:
            r = http.post("/v1/score", json=tx)
            return r.status_code, r.headers.get("x-request-id", "")

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(send, txs))
    assert [s for s, _ in results] == [200] * n

    from fraudwatch.features import RedisStateStore
    from fraudwatch.registry import Registry
    from fraudwatch.scoring import Scorer
    from fraudwatch.serving import TransactionIn

    bundle = Registry(registry_root).get("champion")
    state = RedisStateStore(redis_url, prefix=redis_prefix)
    try:
        probe = TransactionIn.model_validate(
            fresh_tx(card_id=card, timestamp="2024-05-01T10:59:59Z")
        ).model_dump()
        feats = Scorer(bundle, state).features_one(probe)
    finally:
        state.close()
    assert feats["tx_count_card_1h"] == n


@pytest.mark.redis
def test_two_workers_serve_metrics_of_both(
    serve_process: Callable[..., ServerProcess],
    registry_root: str,
    sqlite_url: str,
    redis_url: str,
    redis_prefix: str,
    fresh_tx: Tx,
) -> None:
    """Check that /metrics with two workers counts the decisions of both processes."""
    server = serve_process(
        "serve",
        "--registry",
        registry_root,
        "--db",
        sqlite_url,
        "--no-auth",
        "--workers",
        "2",
        "--state",
        redis_url,
        "--state-prefix",
        redis_prefix,
        "--explain",
        "none",
    )
    server.wait_ready(90)
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(
                lambda tx: httpx.post(server.url + "/v1/score", json=tx, timeout=10),
                [fresh_tx(amount=3.0) for _ in range(40)],
            )
        )
    assert [r.status_code for r in responses] == [200] * 40, server.log.read_text()[-3000:]
    returned = Counter(r.json()["decision"] for r in responses)
    text = httpx.get(server.url + "/metrics", timeout=5).text
    counted: Counter[str] = Counter()
    for x in text.splitlines():
        if x.startswith("fraudwatch_decisions_total{"):
            decision = x.split('decision="')[1].split('"')[0]
            counted[decision] += int(float(x.split()[-1]))
    # The model may send a few of these to review; whatever it decided, every decision
    # returned by either worker is counted once in the aggregated exposition.
    assert +counted == returned
