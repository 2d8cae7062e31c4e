"""Tests of the ``fraudwatch serve`` command's argument handling (errors exit 2)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from serving_helpers import ServerProcess
from typer.testing import CliRunner

from fraudwatch.cli import build_app


def run(*args: str) -> tuple[int, str]:
    """Invoke the CLI in-process; return (exit code, combined output)."""
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def test_help_has_example() -> None:
    """Check that serve --help shows an example command line."""
    code, out = run("serve", "--help")
    assert code == 0
    assert "fraudwatch serve --model champion" in out


def test_workers_need_shared_state(sqlite_url: str) -> None:
    """Check that --workers 2 with in-process state exits 2 and names Redis."""
    code, out = run("serve", "--workers", "2", "--state", "memory", "--db", sqlite_url)
    assert code == 2
    assert "redis://" in out


def test_unknown_model_exits_2(registry_root: str, sqlite_url: str) -> None:
    """Check that an unknown model reference exits 2 naming the registry's versions."""
    code, out = run(
        "serve", "--model", "v-does-not-exist", "--registry", registry_root, "--db", sqlite_url
    )
    assert code == 2
    assert "v-does-not-exist" in out


def test_bad_database_url_exits_2(registry_root: str) -> None:
    """Check that an unsupported database URL exits 2 with the supported forms."""
    code, out = run("serve", "--registry", registry_root, "--db", "mysql://u@h/db")
    assert code == 2
    assert "postgresql://" in out


def test_bad_explain_exits_2(registry_root: str, sqlite_url: str) -> None:
    """Check that an unknown --explain value exits 2 naming the field."""
    code, out = run("serve", "--registry", registry_root, "--db", sqlite_url, "--explain", "some")
    assert code == 2
    assert "explain" in out


@pytest.mark.slow
def test_serve_answers_with_auth_by_default(
    serve_process: Callable[..., ServerProcess], registry_root: str, sqlite_url: str
) -> None:
    """Check that a started server refuses requests without a key unless --no-auth."""
    server = serve_process("serve", "--registry", registry_root, "--db", sqlite_url)
    server.wait_ready()
    r = httpx.post(server.url + "/v1/score", json={}, timeout=5)
    assert r.status_code == 401
    docs = httpx.get(server.url + "/openapi.json", timeout=5).json()
    assert "/v1/score" in docs["paths"]


def test_bad_explainer_exits_2(registry_root: str, sqlite_url: str) -> None:
    """Check that an unknown --explainer value exits 2 naming the option's field."""
    code, out = run("serve", "--registry", registry_root, "--db", sqlite_url, "--explainer", "lime")
    assert code == 2
    assert "explainer" in out
