"""Structured logging: one JSON object per line when not on a terminal, text otherwise.

Library code only calls ``logging.getLogger(__name__)``; :func:`configure_logging` is called
once at the edge (CLI, app factory).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["JsonFormatter", "configure_logging"]

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; ``extra=`` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to whatever ``sys.stderr`` is at emit time.

    Binding the stream at configuration time would leave the logger writing to a closed
    stream after a test runner (or a CLI harness) swapped ``sys.stderr``.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # the base class assigns it; always follow sys.stderr
        pass


def configure_logging(level: str = "INFO", fmt: Literal["auto", "json", "text"] = "auto") -> None:
    """Send fraudwatch's logs to stderr, as JSON lines or as text.

    Parameters
    ----------
    level:
        Minimum level name.
    fmt:
        ``json``, ``text``, or ``auto`` (text on a terminal, JSON otherwise).
    """
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = _StderrHandler()
    handler.setFormatter(
        JsonFormatter() if use_json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger("fraudwatch")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
