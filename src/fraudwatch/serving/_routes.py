"""The HTTP routes: /v1 API, health, readiness, metrics, and the SageMaker contract."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from fraudwatch.serving._auth import ANONYMOUS, Principal, check_scope
from fraudwatch.serving._errors import ApiError, field_problems, request_id_of
from fraudwatch.serving._metrics import CONTENT_TYPE
from fraudwatch.serving._sagemaker import parse_invocation, render_csv
from fraudwatch.serving._schemas import (
    BatchRequest,
    BatchResponse,
    CaseDetail,
    CaseList,
    CaseSummary,
    ErrorBody,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    ModelInfo,
    ReadyResponse,
    ReloadResponse,
    ResolveRequest,
    ScoreResponse,
    TransactionIn,
)
from fraudwatch.serving._service import DecisionService

__all__ = ["build_routers"]

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: `Authorization: Bearer fw_...` (create one with "
    "`fraudwatch apikey create --scope score|feedback|admin`).",
}
_SECURED: dict[str, Any] = {"security": [{"ApiKey": []}]}


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _err("missing, malformed, unknown or revoked API key"),
    403: _err("the key lacks the scope this endpoint needs"),
    500: _err("internal error (the body carries the request id)"),
    503: _err("a dependency (database, feature state) is unavailable; retry"),
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _err("the body is not valid JSON"),
    413: _err("the body is larger than the configured limit"),
    415: _err("the body is not JSON"),
    422: _err("a field is invalid; `fields` names each one and why"),
}


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        content=orjson.dumps(body, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z),
        status_code=status,
        media_type="application/json",
    )


def _service(request: Request) -> DecisionService:
    svc = request.app.state.service
    assert isinstance(svc, DecisionService)
    return svc


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency authenticating the caller and checking ``scope``."""

    async def dependency(request: Request) -> Principal:
        svc = _service(request)
        if not svc.config.auth:
            return ANONYMOUS
        principal = await svc.keys.authenticate(request.headers.get("authorization"))
        check_scope(principal, scope, f"{request.method} {request.url.path}")
        return principal

    return dependency


def _t0(request: Request) -> float:
    state = request.scope.get("state") or {}
    t0 = state.get("t0")
    return float(t0) if t0 is not None else _service(request).timer()


def build_routers(*, sagemaker: bool) -> list[APIRouter]:
    """The routers of the service (the SageMaker pair only when asked for)."""
    v1 = APIRouter(prefix="/v1")

    @v1.post(
        "/score",
        openapi_extra=_SECURED,
        response_model=ScoreResponse,
        summary="Score one transaction",
        tags=["scoring"],
        responses={**_AUTH_ERRORS, **_BODY_ERRORS},
    )
    async def score(
        tx: TransactionIn,
        request: Request,
        _p: Annotated[Principal, Depends(require("score"))],
    ) -> Response:
        """Decide on one transaction (allow / review / decline) with reasons and rules.

        Idempotent on `transaction_id`: a retry returns the stored decision
        (`replayed: true`) and is not counted again in the card's features. The response is
        sent only after the decision is committed to the database.
        """
        return _json(await _service(request).score(tx, _t0(request)))

    @v1.post(
        "/score/batch",
        openapi_extra=_SECURED,
        response_model=BatchResponse,
        summary="Score several transactions",
        tags=["scoring"],
        responses={**_AUTH_ERRORS, **_BODY_ERRORS},
    )
    async def score_batch(
        batch: BatchRequest,
        request: Request,
        _p: Annotated[Principal, Depends(require("score"))],
    ) -> Response:
        """Decide on up to `max_batch` transactions, scored in the order given."""
        svc = _service(request)
        t0 = _t0(request)
        results = await svc.score_many(batch.transactions, t0)
        return _json({"results": results, "server_latency_ms": svc._elapsed_ms(t0)})

    @v1.post(
        "/feedback",
        openapi_extra=_SECURED,
        response_model=FeedbackResponse,
        summary="Label a scored transaction",
        tags=["feedback"],
        responses={**_AUTH_ERRORS, **_BODY_ERRORS, 404: _err("unknown transaction")},
    )
    async def feedback(
        fb: FeedbackRequest,
        request: Request,
        principal: Annotated[Principal, Depends(require("feedback"))],
    ) -> Response:
        """Store a label (fraud/legit) from an analyst, a chargeback or the customer.

        The label resolves the transaction's open case, feeds the label-delayed features
        (e.g. the terminal's fraud rate) and becomes training data for the next model.
        """
        body = await _service(request).feedback(
            fb.transaction_id, fb.label, fb.source, fb.note, principal
        )
        return _json(body)

    @v1.get(
        "/cases",
        openapi_extra=_SECURED,
        response_model=CaseList,
        summary="List cases",
        tags=["cases"],
        responses={**_AUTH_ERRORS, 422: _err("invalid or unknown query parameter, bad cursor")},
    )
    async def list_cases(
        request: Request,
        _p: Annotated[Principal, Depends(require("feedback"))],
        status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Response:
        """Cases opened by review/decline decisions, oldest first (a work queue).

        Pass `next_cursor` back as `cursor` for the next page.
        """
        unknown = sorted(set(request.query_params) - {"status", "limit", "cursor"})
        if unknown:
            raise ApiError(
                422,
                "validation_error",
                f"unknown query parameter(s): {', '.join(unknown)}; use status, limit and cursor",
            )
        return _json(await _service(request).list_cases(status, limit, cursor))

    @v1.get(
        "/cases/{case_id}",
        openapi_extra=_SECURED,
        response_model=CaseDetail,
        summary="Show a case",
        tags=["cases"],
        responses={**_AUTH_ERRORS, 404: _err("unknown case"), 422: _err("invalid case id")},
    )
    async def get_case(
        request: Request,
        case_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        _p: Annotated[Principal, Depends(require("feedback"))],
    ) -> Response:
        """The case with its transaction, score, reasons and the card's recent transactions."""
        return _json(await _service(request).get_case(case_id))

    @v1.post(
        "/cases/{case_id}/resolve",
        openapi_extra=_SECURED,
        response_model=CaseSummary,
        summary="Resolve a case",
        tags=["cases"],
        responses={
            **_AUTH_ERRORS,
            **_BODY_ERRORS,
            404: _err("unknown case"),
            409: _err("already resolved with another verdict"),
        },
    )
    async def resolve_case(
        body: ResolveRequest,
        request: Request,
        case_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        principal: Annotated[Principal, Depends(require("feedback"))],
    ) -> Response:
        """Close a case as fraud or legit; the verdict is also stored as an analyst label.

        Resolving again with the same verdict changes nothing; a different verdict is a 409
        (send feedback to correct a label).
        """
        svc = _service(request)
        return _json(await svc.resolve_case(case_id, body.resolution, body.note, principal))

    @v1.get(
        "/models",
        openapi_extra=_SECURED,
        response_model=ModelInfo,
        summary="The loaded model",
        tags=["models"],
        responses=_AUTH_ERRORS,
    )
    async def models(
        request: Request, _p: Annotated[Principal, Depends(require("score"))]
    ) -> Response:
        """The version and manifest of the model bundle being served."""
        return _json(_service(request).model_info())

    @v1.post(
        "/models/reload",
        openapi_extra=_SECURED,
        response_model=ReloadResponse,
        summary="Swap to the current champion",
        tags=["models"],
        responses={**_AUTH_ERRORS, 409: _err("the champion bundle cannot be loaded")},
    )
    async def reload(
        request: Request, principal: Annotated[Principal, Depends(require("admin"))]
    ) -> Response:
        """Load the registry's current champion and swap to it with no failed request.

        The old model keeps serving until the new one is fully loaded. With several
        workers, the others follow within `reload_poll_seconds`. Every attempt is written
        to the audit log (`model.reload`) under the caller's key.
        """
        svc = _service(request)
        body = await svc.reload(principal)
        notify = getattr(request.app.state, "notify_reload", None)
        if notify is not None:
            await notify()
        return _json(body)

    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz", response_model=HealthResponse, summary="Liveness")
    async def healthz() -> Response:
        """200 while the process serves requests."""
        return _json({"status": "ok"})

    @ops.get(
        "/readyz",
        response_model=ReadyResponse,
        summary="Readiness",
        responses={503: {"model": ReadyResponse, "description": "a dependency is down"}},
    )
    async def readyz(request: Request) -> Response:
        """200 when the model is loaded and the database and feature state answer."""
        ping = getattr(request.app.state, "ping_state", None)
        body = await _service(request).readiness(ping)
        return _json(body, 200 if body["status"] == "ready" else 503)

    @ops.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
    )
    async def metrics(request: Request) -> Response:
        """Request latency, decisions by outcome, scores, errors by kind, model version."""
        return Response(_service(request).metrics.render(), media_type=CONTENT_TYPE)

    routers = [v1, ops]
    if sagemaker:
        routers.append(_sagemaker_router())
    return routers


def _sagemaker_router() -> APIRouter:
    sm = APIRouter(tags=["sagemaker"])

    @sm.get(
        "/ping",
        summary="SageMaker health check",
        response_class=Response,
        responses={200: {"description": "ready"}, 503: {"description": "not ready"}},
    )
    async def ping(request: Request) -> Response:
        """200 when the model is loaded and the database answers (SageMaker's health check)."""
        body = await _service(request).readiness(getattr(request.app.state, "ping_state", None))
        return Response(status_code=200 if body["status"] == "ready" else 503)

    @sm.post(
        "/invocations",
        summary="SageMaker inference",
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/TransactionIn"},
                                {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/TransactionIn"},
                                },
                            ]
                        }
                    },
                },
            }
        },
        responses={
            200: {
                "description": "one decision per row, in order",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "predictions": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/ScoreResponse"},
                                }
                            },
                        }
                    },
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            **_BODY_ERRORS,
            500: _err("internal error"),
            503: _err("a dependency is unavailable"),
        },
    )
    async def invocations(request: Request) -> Response:
        """Score CSV or JSON rows (SageMaker `InvokeEndpoint` and batch transform)."""
        svc = _service(request)
        t0 = _t0(request)
        raw = parse_invocation(await request.body(), request.headers.get("content-type"))
        txs: list[TransactionIn] = []
        problems: list[dict[str, str]] = []
        for n, row in enumerate(raw):
            try:
                txs.append(TransactionIn.model_validate(row))
            except ValidationError as exc:
                for p in field_problems(exc.errors()):
                    problems.append({**p, "field": f"rows.{n}.{p['field']}"})
        if problems:
            state = request.scope.get("state")
            if isinstance(state, dict):
                state["error_kind"] = "validation_error"
            from fraudwatch.serving._errors import error_response

            summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:10])
            return error_response(
                422,
                "validation_error",
                f"invalid rows: {summary}",
                request_id_of(request.scope),
                fields=problems,
            )
        if not txs:
            raise ApiError(400, "bad_request", "no rows to score: the body is empty")
        results = await svc.score_many(txs, t0)
        accept = request.headers.get("accept", "application/json").lower()
        if "text/csv" in accept and "application/json" not in accept:
            return Response(render_csv(results), media_type="text/csv")
        return _json({"predictions": results})

    return sm
