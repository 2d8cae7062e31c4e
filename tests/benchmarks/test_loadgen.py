"""The benchmark's load generator: paced requests are all sent, answered, and never early."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import loadgen as lg

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


class _Answer(asyncio.Protocol):
    """Answers every complete request on the connection with ``{}``; counts them."""

    seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buf[:end].split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            _Answer.seen += 1
            self.transport.write(_ANSWER)


@pytest.mark.parametrize("spin", [True, False])
def test_paced_run_sends_every_request_on_time_or_later(spin: bool) -> None:
    async def run() -> Any:
        server = await asyncio.get_running_loop().create_server(_Answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        request = lg.build_request("/x", b'{"a": 1}')
        try:
            return await lg.run_paced(
                port, lambda i: request, rate=500, duration_s=0.4, connections=4, spin=spin
            )
        finally:
            server.close()

    _Answer.seen = 0
    result = asyncio.run(run())
    assert _Answer.seen == 200
    assert result.statuses == {200: 200}
    assert len(result.start_lags) == 200
    # begun at or after its due time: pacing never sends early; and not held back either
    # (a loose bound: this machine's sleeping processes wake ~1 ms late)
    assert min(result.start_lags) >= 0.0
    assert sorted(result.start_lags)[100] < 0.02
    # the run lasts the paced duration, not less (nothing sent in a burst ahead of time)
    assert result.elapsed_s >= 0.4 * 199 / 200
    summary = result.summary()
    assert summary["client_late_max_ms"] == round(max(result.start_lags) * 1000, 3)
    assert summary["client_late_p99_ms"] == round(sorted(result.start_lags)[197] * 1000, 3)
