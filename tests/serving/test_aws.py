"""Tests of the AWS entry points: SageMaker /ping + /invocations, and the Lambda handler."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from serving_helpers import DECLINE_AMOUNT, REVIEW_AMOUNT, running

from fraudwatch.serving import CONFIG_ENV, LambdaAdapter, ServiceConfig
from fraudwatch.serving._sagemaker import CSV_COLUMNS

Tx = Callable[..., dict[str, Any]]


@pytest.fixture
def lambda_handler(app_factory: Callable[..., FastAPI]) -> Iterator[LambdaAdapter]:
    """A Lambda handler around an app on the test registry and database."""
    handler = LambdaAdapter(app_factory())
    yield handler
    handler.shutdown()


def rest_event(method: str, path: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "abc.execute-api.aws"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": extra.get("query"),
        "multiValueQueryStringParameters": None,
        "requestContext": {"stage": "prod", "identity": {"sourceIp": "203.0.113.9"}},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def http_event(method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) proxy event with a base64 body."""
    raw = b"" if body is None else json.dumps(body).encode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "abc.execute-api.aws"},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.9"}},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }


def test_lambda_scores_a_rest_api_event(lambda_handler: LambdaAdapter, fresh_tx: Tx) -> None:
    """Check that a REST API event scores a transaction and returns the proxy response."""
    out = lambda_handler(rest_event("POST", "/v1/score", fresh_tx(amount=REVIEW_AMOUNT)), None)
    assert out["statusCode"] == 200
    assert out["headers"]["content-type"] == "application/json"
    assert json.loads(out["body"])["decision"] == "review"


def test_lambda_http_api_event_and_query(lambda_handler: LambdaAdapter, fresh_tx: Tx) -> None:
    """Check that an HTTP API event with a base64 body and a query string is served."""
    scored = lambda_handler(http_event("POST", "/v1/score", fresh_tx(amount=DECLINE_AMOUNT)))
    listed = lambda_handler(http_event("GET", "/v1/cases", query="status=open&limit=5"))
    assert scored["statusCode"] == 200
    cases = json.loads(listed["body"])["cases"]
    assert [c["transaction_id"] for c in cases] == [json.loads(scored["body"])["transaction_id"]]


def test_lambda_bad_request_keeps_error_shape(lambda_handler: LambdaAdapter) -> None:
    """Check that a validation error through Lambda is the usual 422 JSON with a request id."""
    out = lambda_handler(rest_event("POST", "/v1/score", {"amount": -1}))
    assert out["statusCode"] == 422
    assert json.loads(out["body"])["error"]["request_id"] == out["headers"]["x-request-id"]


def test_lambda_handler_module_builds_from_env(
    monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., ServiceConfig], fresh_tx: Tx
) -> None:
    """Check that the packaged handler builds its app from FRAUDWATCH_SERVICE_CONFIG once."""
    import logging

    from fraudwatch.serving import lambda_handler as module

    fw_log = logging.getLogger("fraudwatch")  # the handler configures logging: restore it
    monkeypatch.setattr(fw_log, "handlers", list(fw_log.handlers))
    monkeypatch.setattr(fw_log, "propagate", fw_log.propagate)
    monkeypatch.setattr(fw_log, "level", fw_log.level)

    monkeypatch.setenv(CONFIG_ENV, make_config().model_dump_json())
    monkeypatch.setattr(module, "_adapter", {})
    try:
        first = module.handler(rest_event("GET", "/readyz"), None)
        adapter = module._adapter["app"]
        second = module.handler(rest_event("POST", "/v1/score", fresh_tx()), None)
        assert module._adapter["app"] is adapter
    finally:
        module._adapter["app"].shutdown()
    assert first["statusCode"] == 200
    assert second["statusCode"] == 200


@pytest.mark.anyio
async def test_sagemaker_ping(app_factory: Callable[..., FastAPI]) -> None:
    """Check that /ping answers 200 when ready and is absent unless SageMaker mode is on."""
    async with running(app_factory(sagemaker=True)) as client:
        on = await client.get("/ping")
    async with running(app_factory()) as client:
        off = await client.get("/ping")
    assert on.status_code == 200
    assert off.status_code == 404


@pytest.mark.anyio
async def test_sagemaker_invocations_json(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that JSON instances are scored in order and returned as predictions."""
    txs = [fresh_tx(amount=REVIEW_AMOUNT), fresh_tx(amount=DECLINE_AMOUNT)]
    async with running(app_factory(sagemaker=True, auth=True)) as client:
        r = await client.post("/invocations", json={"instances": txs})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["decision"] for p in preds] == ["review", "decline"]


@pytest.mark.anyio
async def test_sagemaker_invocations_csv(app_factory: Callable[..., FastAPI], fresh_tx: Tx) -> None:
    """Check that header-less CSV rows are scored and CSV is returned when accepted."""
    txs = [fresh_tx(amount=REVIEW_AMOUNT), fresh_tx(amount=DECLINE_AMOUNT)]
    buf = io.StringIO()
    writer = csv.writer(buf)
    for tx in txs:
        writer.writerow(["" if tx.get(c) is None else tx.get(c) for c in CSV_COLUMNS])
    async with running(app_factory(sagemaker=True)) as client:
        r = await client.post(
            "/invocations",
            content=buf.getvalue().encode(),
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert [(row[0], row[2]) for row in rows] == [
        (txs[0]["transaction_id"], "review"),
        (txs[1]["transaction_id"], "decline"),
    ]


@pytest.mark.anyio
async def test_sagemaker_bad_row_is_422(app_factory: Callable[..., FastAPI], fresh_tx: Tx) -> None:
    """Check that an invalid row is a 422 naming its index and field."""
    async with running(app_factory(sagemaker=True)) as client:
        r = await client.post("/invocations", json=[fresh_tx(), fresh_tx(amount=-3)])
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["rows.1.amount"]
