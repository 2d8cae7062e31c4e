"""Tests of the service's building blocks that need no model: config, writer, parsing, metrics."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fraudwatch.errors import ConfigError
from fraudwatch.serving import LambdaAdapter, ServiceConfig, ServiceMetrics
from fraudwatch.serving._errors import ApiError
from fraudwatch.serving._metrics import LoopHistogram
from fraudwatch.serving._sagemaker import CSV_COLUMNS, parse_invocation, render_csv
from fraudwatch.serving._writer import GroupWriter, LoopWriter

# -- config ---------------------------------------------------------------------------------


def test_workers_with_memory_state_refused() -> None:
    """Check that several workers with the in-process state store are refused, naming Redis."""
    with pytest.raises(ConfigError, match=r"--workers 2 needs a shared feature state.*redis://"):
        ServiceConfig.build(workers=2, state="memory")


def test_workers_with_redis_state_accepted() -> None:
    """Check that several workers are accepted with Redis state."""
    cfg = ServiceConfig.build(workers=3, state="redis://127.0.0.1:6379/0")
    assert cfg.workers == 3
    assert cfg.shared_state


def test_config_bad_value_names_field() -> None:
    """Check that an invalid service setting is reported with its name."""
    with pytest.raises(ConfigError, match="max_batch"):
        ServiceConfig.build(max_batch=0)


def test_config_from_settings_overrides() -> None:
    """Check that explicit overrides win over the settings and None overrides are ignored."""
    from fraudwatch.config import Settings

    s = Settings(state="redis://x:1/0", database_url="sqlite:///a.db")
    cfg = ServiceConfig.from_settings(s, database_url="sqlite:///b.db", state=None, port=9001)
    assert (cfg.state, cfg.database_url, cfg.port) == ("redis://x:1/0", "sqlite:///b.db", 9001)


# -- group writer ---------------------------------------------------------------------------


def test_writer_groups_concurrent_items() -> None:
    """Check that items queued together are written in fewer calls, results in order."""
    calls: list[int] = []
    gate = threading.Event()

    def write_many(items: Sequence[int]) -> list[int]:
        gate.wait(5)
        calls.append(len(items))
        return [i * 10 for i in items]

    writer: GroupWriter[int, int] = GroupWriter(write_many)
    writer.start()

    async def main() -> list[int]:
        futs = [writer.submit(i) for i in range(20)]
        gate.set()
        return list(await asyncio.gather(*futs))

    try:
        out = asyncio.run(main())
    finally:
        writer.stop()
    assert out == [i * 10 for i in range(20)]
    assert len(calls) < 20
    assert sum(calls) == 20


def test_writer_isolates_a_failing_item() -> None:
    """Check that one bad item fails only its own future when its group fails."""

    def write_many(items: Sequence[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad item 3")
        return list(items)

    writer: GroupWriter[int, int] = GroupWriter(write_many)
    writer.start()

    async def main() -> list[Any]:
        futs = [writer.submit(i) for i in range(6)]
        return list(await asyncio.gather(*futs, return_exceptions=True))

    try:
        out = asyncio.run(main())
    finally:
        writer.stop()
    assert [o for o in out if isinstance(o, ValueError)] == [out[3]]
    assert [o for i, o in enumerate(out) if i != 3] == [0, 1, 2, 4, 5]


def test_writer_refuses_after_stop() -> None:
    """Check that submitting to a stopped writer raises instead of hanging."""
    writer: GroupWriter[int, int] = GroupWriter(lambda items: list(items))
    writer.start()
    writer.stop()

    async def main() -> None:
        writer.submit(1)

    with pytest.raises(RuntimeError, match="not running"):
        asyncio.run(main())


def test_loop_writer_commits_at_most_once_per_interval() -> None:
    """Check that items arriving within the interval after a commit wait and share one."""
    calls: list[list[int]] = []

    def write_many(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return [i * 10 for i in items]

    writer: LoopWriter[int, int] = LoopWriter(write_many, min_interval_s=0.2)
    writer.start()

    async def main() -> tuple[list[int], bool, list[int]]:
        first = await writer.submit(1)  # a quiet writer commits at once
        later = [writer.submit(i) for i in (2, 3, 4)]
        await asyncio.sleep(0.05)
        waited = not any(f.done() for f in later)  # still inside the interval
        return [first], waited, list(await asyncio.gather(*later))

    started = asyncio.run(asyncio.wait_for(main(), timeout=5))
    assert started == ([10], True, [20, 30, 40])
    assert calls == [[1], [2, 3, 4]]


def test_loop_writer_without_interval_commits_each_loop_turn() -> None:
    """Check that with no interval, items submitted in separate turns are separate commits."""
    calls: list[list[int]] = []

    def write_many(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return list(items)

    writer: LoopWriter[int, int] = LoopWriter(write_many)
    writer.start()

    async def main() -> None:
        for i in range(3):
            await writer.submit(i)

    asyncio.run(main())
    assert calls == [[0], [1], [2]]


def test_loop_writer_stop_stores_what_waits() -> None:
    """Check that stopping stores the items still waiting for their interval."""
    calls: list[list[int]] = []

    def write_many(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return list(items)

    writer: LoopWriter[int, int] = LoopWriter(write_many, min_interval_s=30.0)
    writer.start()

    async def main() -> list[int]:
        await writer.submit(1)
        waiting = writer.submit(2)
        writer.stop()
        return [await waiting]

    assert asyncio.run(asyncio.wait_for(main(), timeout=5)) == [2]
    assert calls == [[1], [2]]


# -- SageMaker payloads ---------------------------------------------------------------------


def test_csv_with_header() -> None:
    """Check that a CSV header decides the columns and numbers are parsed."""
    body = b"transaction_id,card_id,timestamp,amount\nt1,c1,2024-01-01T00:00:00Z,12.5\n"
    rows = parse_invocation(body, "text/csv")
    assert rows == [
        {
            "transaction_id": "t1",
            "card_id": "c1",
            "timestamp": "2024-01-01T00:00:00Z",
            "amount": 12.5,
        }
    ]


def test_csv_without_header_uses_canonical_order() -> None:
    """Check that header-less CSV rows (batch transform chunks) follow the canonical order."""
    body = b"t1,2024-01-01T00:00:00Z,c1,9.5,,,,5411,pos\n"
    (row,) = parse_invocation(body, "text/csv; charset=utf-8")
    assert CSV_COLUMNS[:4] == ("transaction_id", "timestamp", "card_id", "amount")
    assert row == {
        "transaction_id": "t1",
        "timestamp": "2024-01-01T00:00:00Z",
        "card_id": "c1",
        "amount": 9.5,
        "merchant_category": "5411",
        "channel": "pos",
    }


def test_csv_too_many_values_is_400() -> None:
    """Check that a CSV row longer than its header is a 400 naming the row."""
    with pytest.raises(ApiError, match="row 1") as info:
        parse_invocation(b"transaction_id,amount\nt1,1,2\n", "text/csv")
    assert info.value.status == 400


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_csv_line_endings(newline: bytes) -> None:
    """Check that CSV rows split on LF, CRLF or a lone CR alike."""
    body = newline.join([b"transaction_id,amount", b"t1,1", b"t2,2", b""])
    rows = parse_invocation(body, "text/csv")
    assert rows == [
        {"transaction_id": "t1", "amount": 1.0},
        {"transaction_id": "t2", "amount": 2.0},
    ]


def test_unreadable_csv_is_400() -> None:
    """Check that a CSV body the csv module cannot read is a 400, not a crash."""
    with pytest.raises(ApiError, match="CSV body cannot be read") as info:
        parse_invocation(b"transaction_id\n" + b"x" * 200_000 + b"\n", "text/csv")
    assert info.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"transaction_id": "a"}',
        b'[{"transaction_id": "a"}]',
        b'{"instances": [{"transaction_id": "a"}]}',
    ],
)
def test_json_shapes(body: bytes) -> None:
    """Check that an object, a list and SageMaker's instances wrapper all give the rows."""
    assert parse_invocation(body, "application/json") == [{"transaction_id": "a"}]


def test_jsonlines() -> None:
    """Check that JSON Lines give one row per line."""
    rows = parse_invocation(b'{"a": 1}\n\n{"a": 2}\n', "application/jsonlines")
    assert rows == [{"a": 1}, {"a": 2}]


def test_unsupported_content_type_is_415() -> None:
    """Check that an unknown content type is refused with the supported ones listed."""
    with pytest.raises(ApiError, match="text/csv") as info:
        parse_invocation(b"x", "application/x-protobuf")
    assert info.value.status == 415


def test_malformed_json_invocation_is_400() -> None:
    """Check that malformed JSON is a 400."""
    with pytest.raises(ApiError) as info:
        parse_invocation(b"{oops", "application/json")
    assert info.value.status == 400


@settings(max_examples=30)
@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet='abcxyz-_0123456789,"', min_size=1, max_size=10),
            st.floats(min_value=0, max_value=1, allow_nan=False),
            st.sampled_from(["allow", "review", "decline"]),
        ),
        max_size=5,
    )
)
def test_render_csv_round_trips(rows: list[tuple[str, float, str]]) -> None:
    """Check that the CSV output parses back to the same ids, scores and decisions."""
    import csv
    import io

    results = [
        {"transaction_id": t, "score": s, "decision": d, "model_version": "v1"} for t, s, d in rows
    ]
    parsed = list(csv.reader(io.StringIO(render_csv(results))))
    assert [(r[0], float(r[1]), r[2]) for r in parsed] == rows


# -- metrics --------------------------------------------------------------------------------


def test_metrics_model_version_follows_reload() -> None:
    """Check that the model-info gauge names only the version being served."""
    m = ServiceMetrics()
    m.set_model("v1")
    m.set_model("v2")
    text = m.render().decode()
    assert 'fraudwatch_model_info{version="v2"} 1.0' in text
    assert 'version="v1"' not in text


def test_metrics_are_per_instance() -> None:
    """Check that two metric sets do not share counts (no global registry)."""
    a, b = ServiceMetrics(), ServiceMetrics()
    a.decision("decline", 0.99)
    assert 'fraudwatch_decisions_total{decision="decline"} 1.0' in a.render().decode()
    assert 'fraudwatch_decisions_total{decision="decline"} 0.0' in b.render().decode()


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(0, 3, allow_nan=False),
            st.sampled_from([0.0, 0.00002, 0.0005, 0.001, 2.5, 3.0]),  # on the bounds
        ),
        max_size=40,
    ),
    labels=st.lists(st.sampled_from(["parse", "model", "rules"]), min_size=40, max_size=40),
)
def test_loop_histogram_exposes_what_prometheus_histogram_does(
    values: list[float], labels: list[str]
) -> None:
    """Check that the loop histogram's exposition equals prometheus_client's, bucket by bucket."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    buckets = (0.00002, 0.0005, 0.001, 0.01, 2.5)
    ours_reg, theirs_reg = CollectorRegistry(), CollectorRegistry()
    ours = LoopHistogram("t_seconds", "Time.", ["stage"], buckets=buckets, registry=ours_reg)
    theirs = Histogram("t_seconds", "Time.", ["stage"], buckets=buckets, registry=theirs_reg)
    for value, label in zip(values, labels, strict=False):
        ours.labels(label).observe(value)
        theirs.labels(label).observe(value)

    def lines(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode()
        return [ln for ln in text.splitlines() if "_created{" not in ln]

    assert lines(ours_reg) == lines(theirs_reg)
    created = [ln for ln in generate_latest(ours_reg).decode().splitlines() if "_created{" in ln]
    assert len(created) == len(set(labels[: len(values)]))


def test_loop_histogram_refuses_wrong_label_count() -> None:
    """Check that a histogram asked for the wrong number of labels says which it takes."""
    from prometheus_client import CollectorRegistry

    h = LoopHistogram("t", "T.", ["a", "b"], buckets=(1.0,), registry=CollectorRegistry())
    with pytest.raises(ValueError, match=r"takes labels \('a', 'b'\)"):
        h.labels("x")


# -- Lambda adapter on a small app ----------------------------------------------------------


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": sorted(request.query_params.multi_items()),
            "body": body.decode(),
            "x": request.headers.getlist("x-multi"),
            "cookie": request.headers.get("cookie"),
        },
        headers={"set-cookie": "a=1"},
    )


async def _binary(request: Request) -> Response:
    return Response(b"\x00\x01\xff", media_type="application/octet-stream")


def _echo_app() -> Starlette:
    return Starlette(
        routes=[Route("/echo", _echo, methods=["GET", "POST"]), Route("/bin", _binary)]
    )


def test_lambda_rest_api_event() -> None:
    """Check that a REST API (v1) event reaches the app with path, query, headers and body."""
    handler = LambdaAdapter(_echo_app())
    event = {
        "httpMethod": "POST",
        "path": "/echo",
        "multiValueQueryStringParameters": {"a": ["1", "2"]},
        "multiValueHeaders": {"X-Multi": ["p", "q"], "Content-Type": ["application/json"]},
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode(b'{"k": 1}').decode(),
        "isBase64Encoded": True,
        "requestContext": {"identity": {"sourceIp": "10.0.0.1"}},
    }
    try:
        out = handler(event, None)
    finally:
        handler.shutdown()
    assert out["statusCode"] == 200
    assert out["isBase64Encoded"] is False
    doc = json.loads(out["body"])
    assert doc["method"] == "POST"
    assert doc["query"] == [["a", "1"], ["a", "2"]]
    assert doc["body"] == '{"k": 1}'
    assert doc["x"] == ["p", "q"]
    assert out["multiValueHeaders"]["set-cookie"] == ["a=1"]


def test_lambda_http_api_event() -> None:
    """Check that an HTTP API (v2) event maps rawPath, rawQueryString and cookies."""
    handler = LambdaAdapter(_echo_app())
    event = {
        "version": "2.0",
        "rawPath": "/echo",
        "rawQueryString": "b=3",
        "cookies": ["s=1", "t=2"],
        "headers": {"x-multi": "z"},
        "requestContext": {"http": {"method": "GET", "sourceIp": "10.0.0.2"}},
        "isBase64Encoded": False,
    }
    try:
        out = handler(event, None)
    finally:
        handler.shutdown()
    doc = json.loads(out["body"])
    assert (doc["method"], doc["query"], doc["cookie"]) == ("GET", [["b", "3"]], "s=1; t=2")
    assert out["cookies"] == ["a=1"]
    assert "set-cookie" not in out["headers"]


def test_lambda_binary_body_is_base64() -> None:
    """Check that a binary response is returned base64-encoded."""
    handler = LambdaAdapter(_echo_app())
    try:
        out = handler({"httpMethod": "GET", "path": "/bin", "headers": {}}, None)
    finally:
        handler.shutdown()
    assert out["isBase64Encoded"] is True
    assert base64.b64decode(out["body"]) == b"\x00\x01\xff"


def test_lambda_warm_invocations_reuse_startup() -> None:
    """Check that the app's startup runs once across warm invocations."""
    starts: list[int] = []

    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        starts.append(1)
        yield

    app = Starlette(routes=[Route("/echo", _echo)], lifespan=lifespan)
    handler = LambdaAdapter(app)
    try:
        for _ in range(3):
            assert handler({"httpMethod": "GET", "path": "/echo"}, None)["statusCode"] == 200
    finally:
        handler.shutdown()
    assert starts == [1]


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.serving exports exactly the documented names."""
    import fraudwatch.serving as serving

    assert sorted(serving.__all__) == sorted(
        [
            "CONFIG_ENV",
            "STAGES",
            "ApiError",
            "Clock",
            "DecisionService",
            "KeyCache",
            "LambdaAdapter",
            "Principal",
            "ScoreResponse",
            "ScoreResultLike",
            "ScorerFactory",
            "ScorerLike",
            "ServiceConfig",
            "ServiceMetrics",
            "TransactionIn",
            "app_from_env",
            "config_from_env",
            "create_app",
            "system_clock",
        ]
    )
    for name in serving.__all__:
        assert getattr(serving, name) is not None


def test_import_builds_nothing() -> None:
    """Check that importing the serving package starts no thread and opens nothing."""
    import subprocess
    import sys

    code = (
        "import threading, fraudwatch.serving, fraudwatch.serving.lambda_handler as h;"
        "assert threading.active_count() == 1, threading.enumerate();"
        "assert h._adapter == {}"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
