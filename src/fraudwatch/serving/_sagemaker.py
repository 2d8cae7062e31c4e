"""Parsing and rendering for the SageMaker bring-your-own-container contract.

SageMaker calls ``GET /ping`` (200 when ready) and ``POST /invocations`` with the payload
of an ``InvokeEndpoint`` call or a batch-transform mini-batch. Accepted bodies:

* ``text/csv``: one transaction per line. A first line naming the columns is used as the
  header; without one (batch transform splits files by line, so later mini-batches carry no
  header) the columns are taken in canonical order (:data:`CSV_COLUMNS`).
* ``application/json``: one transaction object, a list of them, or ``{"instances": [...]}``.
* ``application/jsonlines``: one transaction object per line.

The response is JSON (``{"predictions": [...]}``) unless ``Accept: text/csv`` asks for CSV
lines ``transaction_id,score,decision,model_version``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from fraudwatch.schema.columns import COLUMNS
from fraudwatch.serving._errors import ApiError

__all__ = ["CSV_COLUMNS", "parse_invocation", "render_csv"]

CSV_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.label)
"""Column order of header-less CSV rows: the canonical schema without the label columns."""

_NUMERIC = frozenset({"amount", "latitude", "longitude"})


def _media_type(content_type: str | None) -> str:
    return (content_type or "application/json").split(";")[0].strip().lower()


def _csv_rows(text: str) -> list[dict[str, Any]]:
    # newline="" hands line endings (\n, \r\n, a lone \r) to the csv module, as it expects
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = [row for row in reader if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ApiError(
            400, "bad_request", f"the CSV body cannot be read ({exc}); send one row per line"
        ) from None
    if not lines:
        return []
    first = [c.strip() for c in lines[0]]
    if "transaction_id" in first:
        header, data = first, lines[1:]
    else:
        header, data = list(CSV_COLUMNS), lines
    out: list[dict[str, Any]] = []
    for n, row in enumerate(data, start=1):
        if len(row) > len(header):
            raise ApiError(
                400,
                "bad_request",
                f"CSV row {n} has {len(row)} values but the header has {len(header)} columns; "
                f"without a header the columns are {','.join(CSV_COLUMNS)}",
            )
        rec: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=False):
            value = cell.strip()
            if value == "":
                continue
            if name in _NUMERIC or name not in CSV_COLUMNS:
                rec[name] = _number(value)
            elif name == "timestamp" and _looks_numeric(value):
                rec[name] = float(value)
            else:
                rec[name] = value
        out.append(rec)
    return out


def _looks_numeric(value: str) -> bool:
    try:
        f = float(value)
    except ValueError:
        return False
    return math.isfinite(f)


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value  # let validation name the field


def parse_invocation(body: bytes, content_type: str | None) -> list[Any]:
    """Split an ``/invocations`` body into raw transaction records.

    Raises
    ------
    ApiError
        400 for an undecodable body, 415 for an unsupported content type.
    """
    media = _media_type(content_type)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "the body is not UTF-8 text") from None
    if media == "text/csv":
        return _csv_rows(text)
    if media in ("application/jsonlines", "application/x-jsonlines", "application/jsonl"):
        try:
            return [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "malformed_json", f"a JSON line is not valid JSON: {exc}") from None
    if media == "application/json" or media.endswith("+json"):
        try:
            doc = orjson.loads(text) if text.strip() else []
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
        if isinstance(doc, Mapping) and "instances" in doc:
            doc = doc["instances"]
        if isinstance(doc, Mapping):
            return [doc]
        if isinstance(doc, list):
            return doc
        raise ApiError(
            400,
            "bad_request",
            'expected a transaction object, a list of them, or {"instances": [...]}',
        )
    raise ApiError(
        415,
        "unsupported_media_type",
        f"content type {media!r} is not supported; send text/csv, application/json "
        "or application/jsonlines",
    )


def render_csv(results: Sequence[Mapping[str, Any]]) -> str:
    """CSV lines ``transaction_id,score,decision,model_version`` (no header)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for r in results:
        writer.writerow([r["transaction_id"], r["score"], r["decision"], r["model_version"]])
    return buf.getvalue()
