"""Fixtures of the serving tests: a real LightGBM bundle in a registry, real stores, clients.

The bundle is trained once per session on simulated transactions (a few seconds); every app
under test loads it through the registry exactly as ``fraudwatch serve`` does.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi import FastAPI
from serving_helpers import RULES_YAML, ServerProcess, free_port

from fraudwatch.serving import ServiceConfig, create_app
from fraudwatch.store import Store, open_store

TRAINED_AT = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def simulated() -> pl.DataFrame:
    """Simulated labelled transactions (300 customers, 21 days, 2% fraud)."""
    from fraudwatch.simulate import SimulationConfig, simulate

    return simulate(SimulationConfig(customers=300, days=21, seed=5, fraud_rate=0.02))


@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory, simulated: pl.DataFrame) -> str:
    """A registry whose champion is a small LightGBM bundle trained on ``simulated``."""
    from fraudwatch.registry import Registry
    from fraudwatch.training import train_bundle

    bundle = train_bundle(
        simulated,
        created_at=TRAINED_AT,
        seed=1,
        model_params={"n_estimators": 30},
        num_threads=1,
        min_train=timedelta(days=5),
        label_delay=timedelta(days=2),
    )
    root = tmp_path_factory.mktemp("registry")
    reg = Registry(root)
    reg.register(bundle)
    reg.promote(bundle.version, "champion", at=TRAINED_AT)
    return str(root)


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("is_fraud", "fraud_scenario") or v is None:
            continue
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


@pytest.fixture(scope="session")
def tx_rows(simulated: pl.DataFrame) -> list[dict[str, Any]]:
    """The simulated transactions as JSON request bodies, in time order (labels dropped)."""
    return [_json_ready(r) for r in simulated.sort("timestamp").iter_rows(named=True)]


@pytest.fixture
def fresh_tx(tx_rows: list[dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Make realistic transactions with ids never used before: ``fresh_tx(**overrides)``."""
    run = uuid.uuid4().hex[:8]
    counter = itertools.count()

    def make(**overrides: Any) -> dict[str, Any]:
        i = next(counter)
        base = dict(tx_rows[(i * 37) % len(tx_rows)])
        base["transaction_id"] = f"{run}-{i}"
        base.update(overrides)
        return base

    return make


@pytest.fixture(scope="session")
def rules_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Rules that force review at 5,000 and decline at 20,000 (deterministic decisions)."""
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(RULES_YAML)
    return str(path)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest schema, copied by :func:`sqlite_url`."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    open_store(f"sqlite:///{path}", upgrade=True).close()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A migrated SQLite database file for one test (a copy of the session's template)."""
    target = tmp_path / "fraudwatch.db"
    shutil.copyfile(migrated_sqlite, target)
    return f"sqlite:///{target}"


@pytest.fixture
def make_config(
    registry_root: str, sqlite_url: str, rules_path: str
) -> Callable[..., ServiceConfig]:
    """Build a service config on the test registry and database: ``make_config(**changes)``."""

    def make(**changes: Any) -> ServiceConfig:
        values: dict[str, Any] = {
            "registry": registry_root,
            "database_url": sqlite_url,
            "auth": False,
            "gc_freeze": False,
            "explain": "all",
            "rules_path": rules_path,
        }
        values.update(changes)
        return ServiceConfig.build(**values)

    return make


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (uvicorn's loop)."""
    return "asyncio"


@pytest.fixture
def app_factory(make_config: Callable[..., ServiceConfig]) -> Callable[..., FastAPI]:
    """``app_factory(clock=None, **changes)``: an app loading the champion from the registry."""

    def make(*, clock: Callable[[], datetime] | None = None, **changes: Any) -> FastAPI:
        return create_app(make_config(**changes), clock=clock)

    return make


@pytest.fixture
def store_at() -> Iterator[Callable[[str], Store]]:
    """Open stores on database URLs (closed after the test)."""
    opened: list[Store] = []

    def open_(url: str) -> Store:
        s = open_store(url, upgrade=True)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``fraudwatch serve ARGS`` subprocesses; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        port = free_port()
        server = ServerProcess(list(args), port, tmp_path / f"server-{port}.log")
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def two_version_registry(
    tmp_path: Path, registry_root: str, simulated: pl.DataFrame
) -> tuple[str, str, str]:
    """A copy of the registry with a second, smaller version registered (not promoted).

    Returns ``(root, champion_version, other_version)``.
    """
    from fraudwatch.registry import Registry
    from fraudwatch.training import train_bundle

    root = tmp_path / "registry"
    shutil.copytree(registry_root, root)
    reg = Registry(root)
    other = train_bundle(
        simulated,
        created_at=TRAINED_AT + timedelta(days=1),
        seed=2,
        model_params={"n_estimators": 5},
        num_threads=1,
        min_train=timedelta(days=5),
        label_delay=timedelta(days=2),
        anomaly=False,
    )
    reg.register(other)
    return str(root), reg.resolve("champion"), other.version
