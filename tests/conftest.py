"""Fixtures shared by the whole suite: real PostgreSQL, real Redis, moto's S3 server.

Each test run makes its own PostgreSQL database and Redis key prefix and removes them
afterwards; nothing assumes an empty server.
"""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see fraudwatch.cli.main.main
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get(
    "FRAUDWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FRAUDWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id unique to this test run."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def pg_url(run_id: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (SQLAlchemy URL, psycopg 3 driver)."""
    psycopg = pytest.importorskip("psycopg")
    name = f"fw_test_{run_id}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_prefix(run_id: str) -> Iterator[str]:
    """A Redis key prefix unique to one test; every key under it is deleted afterwards."""
    redis = pytest.importorskip("redis")
    prefix = f"fwtest:{run_id}:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis server used by the tests."""
    return REDIS_URL


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (S3, SNS, Kinesis, DynamoDB); yields its endpoint."""
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the standard AWS environment variables at the moto server; yields the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture(autouse=True)
def _restore_fraudwatch_logger() -> Iterator[None]:
    """Undo what a CLI run's configure_logging did to the 'fraudwatch' logger."""
    import logging

    logger = logging.getLogger("fraudwatch")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
