"""Tests of authentication, scopes, the audit trail and error responses of the decision API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from serving_helpers import REVIEW_AMOUNT, running

from fraudwatch.store import Store

pytestmark = pytest.mark.anyio

Tx = Callable[..., dict[str, Any]]


@pytest.fixture
def keys(sqlite_url: str, store_at: Callable[[str], Store]) -> dict[str, str]:
    """API keys with each scope, created in the test database."""
    store = store_at(sqlite_url)
    out = {
        scope: store.create_api_key(f"test-{scope}", [scope])[1]
        for scope in ("score", "feedback", "admin")
    }
    revoked_id, revoked = store.create_api_key("old", ["score"])
    store.revoke_api_key(revoked_id)
    out["revoked"] = revoked
    return out


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


async def test_missing_key_is_401(app_factory: Callable[..., FastAPI], fresh_tx: Tx) -> None:
    """Check that a request without a key is a 401 telling how to authenticate."""
    async with running(app_factory(auth=True)) as client:
        r = await client.post("/v1/score", json=fresh_tx())
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    err = r.json()["error"]
    assert err["code"] == "unauthorized"
    assert "Authorization: Bearer" in err["message"]


async def test_malformed_header_is_401(app_factory: Callable[..., FastAPI], fresh_tx: Tx) -> None:
    """Check that a non-Bearer Authorization header is a 401 naming the expected form."""
    async with running(app_factory(auth=True)) as client:
        r = await client.post("/v1/score", json=fresh_tx(), headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert "malformed" in r.json()["error"]["message"]


@pytest.mark.parametrize("which", ["unknown", "revoked"])
async def test_bad_key_is_401(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, keys: dict[str, str], which: str
) -> None:
    """Check that an unknown or revoked key is a 401."""
    key = keys["revoked"] if which == "revoked" else keys["score"][:-4] + "AAAA"
    async with running(app_factory(auth=True)) as client:
        r = await client.post("/v1/score", json=fresh_tx(), headers=bearer(key))
    assert r.status_code == 401
    assert "invalid or revoked" in r.json()["error"]["message"]


async def test_wrong_scope_is_403(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, keys: dict[str, str]
) -> None:
    """Check that a feedback-only key cannot score: 403 naming the missing scope."""
    async with running(app_factory(auth=True)) as client:
        r = await client.post("/v1/score", json=fresh_tx(), headers=bearer(keys["feedback"]))
    assert r.status_code == 403
    assert "'score' scope" in r.json()["error"]["message"]


async def test_scopes_grant_their_endpoints(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, keys: dict[str, str]
) -> None:
    """Check that each scope opens its endpoints and admin opens all."""
    tx = fresh_tx(amount=REVIEW_AMOUNT)
    async with running(app_factory(auth=True)) as client:
        scored = await client.post("/v1/score", json=tx, headers=bearer(keys["score"]))
        fb = await client.post(
            "/v1/feedback",
            json={"transaction_id": tx["transaction_id"], "label": "fraud", "source": "analyst"},
            headers=bearer(keys["feedback"]),
        )
        cases_by_score_key = await client.get("/v1/cases", headers=bearer(keys["score"]))
        reload_by_feedback = await client.post(
            "/v1/models/reload", headers=bearer(keys["feedback"])
        )
        admin_cases = await client.get("/v1/cases", headers=bearer(keys["admin"]))
    assert (scored.status_code, fb.status_code) == (200, 200)
    assert (cases_by_score_key.status_code, reload_by_feedback.status_code) == (403, 403)
    assert admin_cases.status_code == 200


async def test_feedback_actor_is_the_key(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    keys: dict[str, str],
    sqlite_url: str,
    store_at: Callable[[str], Store],
) -> None:
    """Check that the audit trail names the API key that resolved a case."""
    tx = fresh_tx(amount=REVIEW_AMOUNT)
    async with running(app_factory(auth=True)) as client:
        await client.post("/v1/score", json=tx, headers=bearer(keys["score"]))
        await client.post(
            "/v1/feedback",
            json={"transaction_id": tx["transaction_id"], "label": "fraud", "source": "analyst"},
            headers=bearer(keys["feedback"]),
        )
    case = store_at(sqlite_url).list_cases(status="resolved").items[0]
    assert case.resolved_by is not None
    assert "test-feedback" in case.resolved_by
    assert keys["feedback"] not in case.resolved_by


async def test_malformed_json_is_400(app_factory: Callable[..., FastAPI]) -> None:
    """Check that a body that is not JSON is a 400 malformed_json."""
    async with running(app_factory()) as client:
        r = await client.post(
            "/v1/score",
            content=b'{"transaction_id": ',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"


async def test_invalid_fields_are_422_naming_each(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a 422 lists every invalid field with a reason."""
    async with running(app_factory()) as client:
        r = await client.post("/v1/score", json=fresh_tx(amount=-5, currency="EURO", latitude=100))
    assert r.status_code == 422
    fields = {f["field"]: f["message"] for f in r.json()["error"]["fields"]}
    assert set(fields) == {"amount", "currency", "latitude"}
    assert all(fields.values())


async def test_timestamp_beyond_utc_range_is_422(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx
) -> None:
    """Check that a timestamp whose UTC instant is before year 1 is a 422, not a 500."""
    async with running(app_factory()) as client:
        r = await client.post("/v1/score", json=fresh_tx(timestamp="0001-01-01T00:00:01+03:00"))
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["timestamp"]


async def test_form_body_is_415(app_factory: Callable[..., FastAPI]) -> None:
    """Check that a form-encoded body is a 415 asking for JSON."""
    async with running(app_factory()) as client:
        r = await client.post("/v1/score", data={"transaction_id": "x"})
    assert r.status_code == 415


async def test_oversized_body_is_413(app_factory: Callable[..., FastAPI]) -> None:
    """Check that a body over max_body_bytes is a 413, declared length or streamed."""

    async def chunks() -> Any:
        for _ in range(8):
            yield b" " * 1024

    async with running(app_factory(max_body_bytes=4096)) as client:
        declared = await client.post(
            "/v1/score",
            content=b"{" + b" " * 5000 + b"}",
            headers={"content-type": "application/json"},
        )
        streamed = await client.post(
            "/v1/score", content=chunks(), headers={"content-type": "application/json"}
        )
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/cases/999999", None),
        ("POST", "/v1/cases/999999/resolve", {"resolution": "fraud"}),
        (
            "POST",
            "/v1/feedback",
            {"transaction_id": "nope", "label": "fraud", "source": "customer"},
        ),
    ],
)
async def test_unknown_entity_is_404(
    app_factory: Callable[..., FastAPI], method: str, path: str, body: Any
) -> None:
    """Check that an unknown case or transaction is a 404 with a hint."""
    async with running(app_factory()) as client:
        r = await client.request(method, path, json=body)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_internal_error_hides_trace_and_logs_request_id(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Check that a crash is a 500 without stack trace, logged under the returned request id."""
    app = app_factory()
    async with running(app) as client:
        scorer = app.state.service.scorer

        def explode(tx: Any) -> Any:
            raise ZeroDivisionError("secret internal detail")

        scorer.score_one = explode
        scorer.score_each = explode
        with caplog.at_level(logging.ERROR, logger="fraudwatch"):
            r = await client.post("/v1/score", json=fresh_tx(), headers={"X-Request-ID": "req-123"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "req-123"
    text = r.text
    assert "secret internal detail" not in text
    assert "Traceback" not in text
    assert r.json()["error"]["request_id"] == "req-123"
    logged = [rec for rec in caplog.records if getattr(rec, "request_id", None) == "req-123"]
    assert logged
    assert logged[0].exc_info is not None


async def test_unsafe_request_id_is_replaced(app_factory: Callable[..., FastAPI]) -> None:
    """Check that a client request id with unsafe characters is not echoed back."""
    async with running(app_factory()) as client:
        r = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
    assert len(r.headers["x-request-id"]) == 32


async def test_unknown_route_is_json_404(app_factory: Callable[..., FastAPI]) -> None:
    """Check that an unknown path gets the JSON error shape."""
    async with running(app_factory()) as client:
        r = await client.get("/v2/nothing")
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"code", "message", "request_id"}


async def test_audit_log_names_the_key_for_each_action(
    app_factory: Callable[..., FastAPI],
    fresh_tx: Tx,
    keys: dict[str, str],
    sqlite_url: str,
    store_at: Callable[[str], Store],
) -> None:
    """Check that feedback, a case resolution and a model reload are audited under the key."""
    labelled, resolved = fresh_tx(amount=REVIEW_AMOUNT), fresh_tx(amount=REVIEW_AMOUNT)
    async with running(app_factory(auth=True)) as client:
        for tx in (labelled, resolved):
            await client.post("/v1/score", json=tx, headers=bearer(keys["score"]))
        case_id = (
            await client.get("/v1/cases", params={"limit": 10}, headers=bearer(keys["admin"]))
        ).json()["cases"][1]["case_id"]
        fb = await client.post(
            "/v1/feedback",
            json={
                "transaction_id": labelled["transaction_id"],
                "label": "fraud",
                "source": "analyst",
            },
            headers=bearer(keys["feedback"]),
        )
        res = await client.post(
            f"/v1/cases/{case_id}/resolve",
            json={"resolution": "legit"},
            headers=bearer(keys["feedback"]),
        )
        reload = await client.post("/v1/models/reload", headers=bearer(keys["admin"]))
    assert (fb.status_code, res.status_code, reload.status_code) == (200, 200, 200)
    store = store_at(sqlite_url)
    by_action: dict[str, list[Any]] = {}
    for e in store.list_audit(limit=100).items:
        by_action.setdefault(e.action, []).append(e)
    assert [e.target for e in by_action["feedback.add"]] == [
        f"transaction:{resolved['transaction_id']}",
        f"transaction:{labelled['transaction_id']}",
    ]
    assert len(by_action["case.resolve"]) == 2  # one by the feedback, one by the analyst
    assert all("test-feedback" in e.actor for e in by_action["feedback.add"])
    (entry,) = by_action["model.reload"]
    assert "test-admin" in entry.actor
    assert entry.details["outcome"] == "ok"
    assert entry.target == f"model:{reload.json()['model_version']}"
    for e in store.list_audit(limit=100).items:
        assert all(key not in e.actor for key in keys.values()), "a key leaked into the audit"


def _error_cases(tx: dict[str, Any], keys: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    """(expected status, request) pairs covering each kind of client error."""
    js = {"content-type": "application/json"}
    return [
        (400, {"method": "POST", "url": "/v1/score", "content": b"{", "headers": js}),
        (401, {"method": "POST", "url": "/v1/score", "json": tx}),
        (
            403,
            {"method": "POST", "url": "/v1/score", "json": tx, "headers": bearer(keys["feedback"])},
        ),
        (404, {"method": "GET", "url": "/v1/cases/424242", "headers": bearer(keys["admin"])}),
        (405, {"method": "DELETE", "url": "/v1/score", "headers": bearer(keys["admin"])}),
        (
            413,
            {
                "method": "POST",
                "url": "/v1/score",
                "content": b"[" + b"0," * 3000 + b"0]",
                "headers": {**js, **bearer(keys["score"])},
            },
        ),
        (
            415,
            {
                "method": "POST",
                "url": "/v1/feedback",
                "data": {"a": "b"},
                "headers": bearer(keys["admin"]),
            },
        ),
        (
            422,
            {
                "method": "POST",
                "url": "/v1/score",
                "json": {**tx, "amount": "x"},
                "headers": bearer(keys["score"]),
            },
        ),
    ]


async def test_every_client_error_is_json_with_request_id(
    app_factory: Callable[..., FastAPI], fresh_tx: Tx, keys: dict[str, str]
) -> None:
    """Check that 400/401/403/404/405/413/415/422 share one JSON shape carrying the request id."""
    cases = _error_cases(fresh_tx(), keys)
    async with running(app_factory(auth=True, max_body_bytes=4096)) as client:
        responses = [(want, await client.request(**req)) for want, req in cases]
    for want, r in responses:
        assert r.status_code == want, r.text
        assert r.headers["content-type"] == "application/json"
        err = r.json()["error"]
        assert {"code", "message", "request_id"} <= set(err)
        assert err["request_id"] == r.headers["x-request-id"]
        assert err["message"]
        assert "Traceback" not in r.text
