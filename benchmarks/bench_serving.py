"""Latency and throughput of ``POST /v1/score`` under paced load, over loopback.

What it does (everything on 127.0.0.1, bounded in count and time):

1. trains a LightGBM bundle of realistic size (300 trees of 63 leaves, early stopping off,
   with the Isolation Forest detector) on simulated transactions and promotes it in a
   registry (``--registry DIR`` keeps it, so later runs skip the ~1 minute of training);
2. for each backend — ``memory+sqlite`` (in-process state, SQLite, one worker) and
   ``redis+postgres`` (Redis state, PostgreSQL in a scratch database) — starts
   ``fraudwatch serve`` in its own process with an API key and warms it up;
3. measures the cost of one request at 50 req/s, where no request waits for another: the
   mean time of each stage (parse, features, model, reasons, rules, persistence) from the
   server's ``fraudwatch_stage_seconds`` metrics, and the server's CPU per request;
4. sends open-loop load at each rate (250, 500, 1,000 req/s by default) from this process:
   request *i* is due at ``start + i / rate`` and its latency counts from that due time, so
   a stalled server is charged for the requests it delayed; then saturates the server with a
   closed loop of 32 connections for the maximum throughput. For ``memory+sqlite`` the
   generator busy-waits on the first CPU and the server runs on the last (:func:`placement`);
   each paced row reports how late the generator began requests;
5. prints, and with ``--markdown`` writes, a ready-to-paste Markdown section: the command,
   date, machine, load average, a CPU calibration and, for every row, how much CPU *other*
   processes used meanwhile (the machine is shared); ``--json`` keeps the raw numbers.

The load generator (``loadgen.py``) is a bounded asyncio HTTP/1.1 client of ~30 µs per
request; this script installs nothing.

Usage::

    .venv/bin/python benchmarks/bench_serving.py --registry /tmp/fw-bench-registry \\
        --markdown benchmarks/results/serving.md --json benchmarks/results/serving.json
    .venv/bin/python benchmarks/bench_serving.py --quick       # 3 s per rate instead of 10 s
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import LoadResult, build_request, run_closed, run_paced
from machine import calibration, memory_probe

REPO = Path(__file__).resolve().parents[1]
FRAUDWATCH = Path(sys.executable).parent / "fraudwatch"
PG_ADMIN = os.environ.get("FRAUDWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("FRAUDWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
STAGES = ("parse", "features", "model", "reasons", "rules", "persistence")
TRAINED_AT = datetime(2024, 6, 1, tzinfo=UTC)


# -- set-up ----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_registry(root: Path, *, trees: int, seed: int, anomaly: bool) -> str:
    """Return the champion of ``root``, training and promoting one first if there is none."""
    from fraudwatch.registry import Registry

    if root.exists() and any(root.iterdir()):
        try:
            return Registry(root).resolve("champion")
        except Exception as exc:  # an unusable folder: say so rather than overwrite it
            raise SystemExit(f"{root} is not a registry with a champion ({exc})") from None
    from fraudwatch.simulate import SimulationConfig, simulate
    from fraudwatch.training import train_bundle

    data = simulate(SimulationConfig(customers=2000, days=28, seed=seed, fraud_rate=0.01))
    bundle = train_bundle(
        data,
        created_at=TRAINED_AT,
        seed=seed,
        model_params={"n_estimators": trees, "early_stopping_rounds": None},
        label_delay=timedelta(days=3),
        anomaly=anomaly,
    )
    reg = Registry(root)
    reg.register(bundle)
    reg.promote(bundle.version, "champion", at=TRAINED_AT)
    return bundle.version


def request_bodies(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` realistic transactions (simulated after the training period), in time order."""
    from fraudwatch.simulate import SimulationConfig, simulate

    days = max(7, math.ceil(n / 9000))  # ~9,000 transactions a day from 3,000 customers
    data = simulate(
        SimulationConfig(customers=3000, days=days, seed=seed + 1, start="2024-06-02")
    ).sort("timestamp")
    return [
        {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in r.items()
            if v is not None and k not in ("is_fraud", "fraud_scenario")
        }
        for r in data.head(n).iter_rows(named=True)
    ]


def machine_busy_s() -> float:
    """CPU seconds every process of the machine has used (``/proc/stat``), 0 if unknown."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process (the load generator)."""
    t = os.times()
    return t.user + t.system


class Server:
    """``fraudwatch serve`` in a subprocess on 127.0.0.1."""

    def __init__(self, args: list[str], log: Path, cpus: AbstractSet[int] | None = None) -> None:
        self.port = free_port()
        self.log = log
        self._log = log.open("wb")
        env = dict(os.environ, FRAUDWATCH_LOG_LEVEL="WARNING")
        self.proc = subprocess.Popen(
            [str(FRAUDWATCH), "serve", *args, "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
            # before exec, so that every thread of the server inherits the CPU set
            preexec_fn=None if cpus is None else (lambda: os.sched_setaffinity(0, cpus)),
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait for ``/readyz`` to answer 200."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server not ready: " + self.log.read_text()[-2000:])

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its worker processes."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop in 20 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        try:
            text = subprocess.run(
                ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            return []
    return [int(x) for x in text.split()]


# -- measurement -----------------------------------------------------------------------------


def metrics_text(port: int) -> str:
    """The server's ``/metrics`` exposition."""
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def stage_totals(port: int) -> dict[str, tuple[float, float]]:
    """``{stage: (sum of seconds, count)}`` from the server's metrics."""
    text = metrics_text(port)
    out = {s: [0.0, 0.0] for s in STAGES}
    pattern = r'fraudwatch_stage_seconds_(sum|count)\{stage="(\w+)"\} ([0-9.e+-]+)'
    for m in re.finditer(pattern, text):
        kind, stage, value = m.group(1), m.group(2), float(m.group(3))
        if stage in out:
            out[stage][0 if kind == "sum" else 1] += value
    return {k: (v[0], v[1]) for k, v in out.items()}


def runtime_totals(port: int) -> dict[str, float]:
    """Counters of the server's loop-lag and GC-pause histograms (see docs/operations.md)."""
    text = metrics_text(port)
    out = {"gc_full": 0.0, "gc_full_s": 0.0, "gc_young_s": 0.0, "lag_n": 0.0, "lag_le_10ms": 0.0}
    gc_pattern = r'fraudwatch_gc_pause_seconds_(sum|count)\{generation="(\d+)"\} (\S+)'
    for m in re.finditer(gc_pattern, text):
        kind, gen, value = m.group(1), m.group(2), float(m.group(3))
        if gen == "2":
            out["gc_full" if kind == "count" else "gc_full_s"] += value
        elif kind == "sum":
            out["gc_young_s"] += value
    m = re.search(r"fraudwatch_event_loop_lag_seconds_count (\S+)", text)
    out["lag_n"] = float(m.group(1)) if m else 0.0
    m = re.search(r'fraudwatch_event_loop_lag_seconds_bucket\{le="0.01"\} (\S+)', text)
    out["lag_le_10ms"] = float(m.group(1)) if m else 0.0
    return out


def runtime_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What happened on the server's loop between two readings of :func:`runtime_totals`."""
    d = {k: after[k] - before[k] for k in before}
    return {
        "full_gcs": d["gc_full"],
        "full_gc_ms": round(d["gc_full_s"] * 1000, 1),
        "young_gc_ms": round(d["gc_young_s"] * 1000, 1),
        "lag_samples": d["lag_n"],
        "lag_over_10ms": d["lag_n"] - d["lag_le_10ms"],
    }


def stage_means_us(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Mean µs per request of each stage between two readings."""
    means = {}
    for s in STAGES:
        seconds = after[s][0] - before[s][0]
        count = after[s][1] - before[s][1]
        means[s] = round(seconds / count * 1e6, 1) if count else float("nan")
    return means


@dataclass
class Window:
    """CPU use while one load ran: the server, the load generator, everything else."""

    server_s: float
    loadgen_s: float
    other_s: float
    wall_s: float


@contextmanager
def measured(server: Server, into: list[Window]) -> Iterator[None]:
    """Record the CPU used by the server, this process and the rest of the machine."""
    s0, g0, m0, w0 = server.cpu_seconds(), own_cpu_s(), machine_busy_s(), time.monotonic()
    yield
    s1, g1, m1, w1 = server.cpu_seconds(), own_cpu_s(), machine_busy_s(), time.monotonic()
    server_s, gen_s = s1 - s0, g1 - g0
    into.append(Window(server_s, gen_s, max(0.0, (m1 - m0) - server_s - gen_s), w1 - w0))


def request_maker(bodies: list[dict[str, Any]], run: str, key: str) -> Callable[[int], bytes]:
    """``make(i)``: the bytes of request ``i`` (a unique transaction id, bodies in turn)."""
    headers = [("Authorization", f"Bearer {key}")]
    templates = [
        json.dumps({**b, "transaction_id": "@@ID@@"}, separators=(",", ":")) for b in bodies
    ]
    counter = iter(range(10**9))

    def make(_: int) -> bytes:
        i = next(counter)
        body = templates[i % len(templates)].replace("@@ID@@", f"{run}-{i}", 1).encode()
        return build_request("/v1/score", body, headers)

    return make


def row_of(target: str, res: LoadResult, window: Window) -> dict[str, Any]:
    """One table row: the client's view of a load plus the CPU it cost."""
    n = max(1, len(res.latencies))
    return {
        "target": target,
        **res.summary(),
        "server_cpu_ms_per_request": round(window.server_s / n * 1000, 3),
        "other_cores": round(window.other_s / window.wall_s, 2) if window.wall_s else 0.0,
        "loadgen_cores": round(window.loadgen_s / window.wall_s, 2) if window.wall_s else 0.0,
    }


# the CPUs this process may run on (none where the OS cannot tell or pin)
CPUS_AT_START = frozenset(getattr(os, "sched_getaffinity", lambda _: ())(0))


@dataclass(frozen=True)
class Placement:
    """The CPUs of the load generator and of the server, when both are pinned.

    Pinned, the generator busy-waits for each due time (``spin``); otherwise it sleeps.
    """

    cpus: tuple[int, int] | None = None  # (generator, server)

    @property
    def spin(self) -> bool:
        """Busy-wait pacing: only with each process on a CPU of its own."""
        return self.cpus is not None

    def describe(self) -> str:
        """For the report: pacing and CPUs."""
        if self.cpus is None:
            return "sleep pacing, not pinned"
        return f"busy-wait pacing, generator on CPU {self.cpus[0]}, server on CPU {self.cpus[1]}"


def placement(backend: str, opts: argparse.Namespace) -> Placement:
    """The generator's pacing and the CPUs of both processes for one backend.

    With in-process state and SQLite no other process serves a request, so the generator
    busy-waits (``loadgen.py`` says why) on the first CPU and the server runs on the last:
    left to itself, the scheduler of the 2-core VM often put both on one CPU (seen with
    ``ps -o psr``). With Redis and PostgreSQL in the request path, both would lose the CPU
    to a busy generator (measured 2026-12-08: p99 at 250 req/s 39.8 ms, maximum 663 req/s),
    so the generator sleeps and nothing is pinned. It also sleeps, unpinned, with
    ``--client-sleep`` or ``--no-pin`` (a busy generator must not share the server's CPU) and
    where fewer than two CPUs can be pinned.
    """
    cpus = sorted(CPUS_AT_START)
    if backend != "memory+sqlite" or not (opts.spin and opts.pin) or len(cpus) < 2:
        return Placement()
    return Placement((cpus[0], cpus[-1]))


def bench_backend(
    name: str,
    serve_args: list[str],
    db_url: str,
    bodies: list[dict[str, Any]],
    opts: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    """Start one server and run the stage probe, the paced rates and the saturation run."""
    from fraudwatch.store import open_store

    with open_store(db_url, upgrade=True) as store:
        _, key = store.create_api_key("bench", ["score"])
    place = placement(name, opts)
    if place.cpus is not None:
        os.sched_setaffinity(0, {place.cpus[0]})
    server = Server(
        [*serve_args, "--db", db_url],
        workdir / f"{name}.log",
        None if place.cpus is None else {place.cpus[1]},
    )
    out: dict[str, Any] = {
        "backend": name,
        "args": serve_args,
        "rows": [],
        "placement": place.describe(),
    }
    make = request_maker(bodies, f"{name}-{uuid.uuid4().hex[:6]}", key)
    paced = functools.partial(run_paced, server.port, make, spin=place.spin)
    windows: list[Window] = []
    try:
        server.wait_ready()
        asyncio.run(paced(rate=200, duration_s=opts.warmup))
        before = stage_totals(server.port)
        with measured(server, windows):
            probe = asyncio.run(paced(rate=50, duration_s=opts.probe))
        out["stages_us"] = stage_means_us(before, stage_totals(server.port))
        out["probe"] = row_of("50", probe, windows[-1])
        print(f"  {name} stages at 50 req/s (µs): {out['stages_us']}", flush=True)
        for rate in opts.rate_list:
            loop0 = runtime_totals(server.port)
            with measured(server, windows):
                res = asyncio.run(paced(rate=rate, duration_s=opts.duration))
            row = row_of(f"{rate:g}", res, windows[-1])
            row.update(runtime_delta(loop0, runtime_totals(server.port)))
            out["rows"].append(row)
            print(f"  {name} @ {rate:g}/s: {json.dumps(row)}", flush=True)
        loop0 = runtime_totals(server.port)
        with measured(server, windows):
            res = asyncio.run(
                run_closed(server.port, make, duration_s=opts.duration, connections=32)
            )
        row = row_of("max", res, windows[-1])
        row.update(runtime_delta(loop0, runtime_totals(server.port)))
        out["rows"].append(row)
        print(f"  {name} max: {json.dumps(row)}", flush=True)
    finally:
        server.stop()
        if place.cpus is not None:
            os.sched_setaffinity(0, CPUS_AT_START)
    return out


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A PostgreSQL database for one run, dropped afterwards."""
    import psycopg

    name = f"fw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_redis_prefix() -> Iterator[str]:
    """A Redis key prefix for one run; its keys are deleted afterwards."""
    import redis

    prefix = f"fwbench:{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        client.close()


# -- report ----------------------------------------------------------------------------------


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown section for docs/benchmarks.md."""
    lines = [
        "Command (from the repository root):",
        "",
        "```",
        meta["command"],
        "```",
        "",
        f"Measured {meta['date']} on {meta['machine']}; load average at start "
        f"{meta['loadavg_start']}, at end {meta['loadavg_end']}; calibration "
        f"{meta['calibration_s']:.3f} s (a 1M-step Python loop, ~0.03 s on an idle core), "
        f"{meta['memory_probe_ns']:.0f} ns per random read of 2M objects. "
        f"Model: {meta['model']}; `--explain {meta['explain']}`"
        + (f", `--explainer {meta['explainer']}`" if meta.get("explainer") else "")
        + (f", `--micro-batch {meta['micro_batch']}`" if meta.get("micro_batch") else "")
        + f"; {meta['duration_s']:g} s per rate; online path: {meta['compiled']} of "
        f"{meta['compilable']} modules compiled. Load generator: "
        + "; ".join(f"{r['backend']}: {r['placement']}" for r in results)
        + "; *client late* is how late it began requests (p99 / max), which the latencies "
        "include.",
        "",
        "| backend | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms "
        "| non-200 | server CPU ms/req | other processes (cores) | full GCs (ms) "
        "| loop lag > 10 ms | client late ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for row in r["rows"]:
            target = "max (32 conn.)" if row["target"] == "max" else row["target"]
            late = (
                f"{row['client_late_p99_ms']:.2f} / {row['client_late_max_ms']:.1f}"
                if "client_late_p99_ms" in row
                else "–"
            )
            lines.append(
                f"| {r['backend']} | {target} | {row['throughput_rps']:.0f} "
                f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['p999_ms']:.2f} "
                f"| {row['max_ms']:.1f} | {row['non_200'] + row['errors']:.0f} "
                f"| {row['server_cpu_ms_per_request']:.2f} | {row['other_cores']:.2f} "
                f"| {row['full_gcs']:.0f} ({row['full_gc_ms']:.1f}) "
                f"| {row['lag_over_10ms']:.0f} of {row['lag_samples']:.0f} "
                f"| {late} |"
            )
    lines += [
        "",
        "Cost of one request at 50 req/s (no queueing): mean µs per request of each stage "
        "(server metrics; `reasons` averages over all requests, most of which get none), "
        "the client's p50 and the server's CPU per request:",
        "",
        "| backend | " + " | ".join(STAGES) + " | client p50 ms | server CPU ms/req |",
        "|---|" + "---:|" * (len(STAGES) + 2),
    ]
    for r in results:
        st = r["stages_us"]
        lines.append(
            f"| {r['backend']} | "
            + " | ".join(f"{st[s]:.0f}" for s in STAGES)
            + f" | {r['probe']['p50_ms']:.2f} | {r['probe']['server_cpu_ms_per_request']:.2f} |"
        )
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick`` shortens every phase)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default="memory+sqlite,redis+postgres")
    parser.add_argument("--rates", default="250,500,1000", help="paced rates, req/s")
    parser.add_argument("--duration", type=float, default=None, help="seconds per rate (10)")
    parser.add_argument("--quick", action="store_true", help="3 s per rate, short warm-up")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--registry", type=Path, default=None, help="keep/reuse the bundle here")
    parser.add_argument("--workers", type=int, default=1, help="workers for redis+postgres")
    parser.add_argument("--explain", default="flagged", choices=("flagged", "all", "none"))
    parser.add_argument("--explainer", default=None, help="passed to serve --explainer")
    parser.add_argument(
        "--micro-batch", type=int, default=None, help="passed to serve --micro-batch (16)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-anomaly", action="store_true", help="no Isolation Forest")
    parser.add_argument(
        "--client-sleep",
        dest="spin",
        action="store_false",
        help="pace by sleeping (default for memory+sqlite: busy-wait, see loadgen.py)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the scheduler place both processes (default for memory+sqlite: one CPU each)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the section here")
    opts = parser.parse_args(argv)
    opts.rate_list = [float(x) for x in opts.rates.split(",") if x.strip()]
    if opts.duration is None:
        opts.duration = 3.0 if opts.quick else 10.0
    opts.warmup = 2.0 if opts.quick else 5.0
    opts.probe = 4.0 if opts.quick else 8.0
    return opts


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the Markdown section."""
    from fraudwatch._speedups import compiled_modules

    opts = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fw-bench-serving-"))
    registry = opts.registry or work / "registry"
    built = compiled_modules()
    meta: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "loadavg_start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "calibration_s": calibration(),
        "memory_probe_ns": memory_probe(),
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "explain": opts.explain,
        "explainer": opts.explainer,
        "micro_batch": opts.micro_batch,
        "duration_s": opts.duration,
        # the server runs this same install: a stale build would run as Python there too
        "compiled": sum(built.values()),
        "compilable": len(built),
    }
    print(f"bundle: {opts.trees} trees in {registry} (trained if missing) ...", flush=True)
    started = time.perf_counter()
    version = ensure_registry(
        registry, trees=opts.trees, seed=opts.seed, anomaly=not opts.no_anomaly
    )
    detector = "without anomaly detector" if opts.no_anomaly else "+ Isolation Forest"
    meta["model"] = f"LightGBM {opts.trees} trees x 63 leaves {detector} ({version})"
    print(f"  ready in {time.perf_counter() - started:.0f} s", flush=True)
    per_backend = sum(opts.rate_list) * opts.duration + 250 * opts.duration + 2000
    bodies = request_bodies(int(min(60_000, per_backend)), opts.seed)
    common = ["--registry", str(registry), "--explain", opts.explain]
    if opts.explainer:
        common += ["--explainer", opts.explainer]
    if opts.micro_batch is not None:
        common += ["--micro-batch", str(opts.micro_batch)]
    results = []
    try:
        for backend in opts.backends.split(","):
            if backend == "memory+sqlite":
                args = [*common, "--state", "memory"]
                db = f"sqlite:///{work / 'bench.db'}"
                results.append(bench_backend(backend, args, db, bodies, opts, work))
            elif backend == "redis+postgres":
                with scratch_postgres() as db, scratch_redis_prefix() as prefix:
                    args = [*common, "--state", REDIS, "--state-prefix", prefix]
                    args += ["--workers", str(opts.workers)]
                    results.append(bench_backend(backend, args, db, bodies, opts, work))
            else:
                raise SystemExit(f"unknown backend {backend!r}: memory+sqlite or redis+postgres")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["loadavg_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = markdown(results, meta)
    print("\n" + text)
    if opts.markdown is not None:
        opts.markdown.parent.mkdir(parents=True, exist_ok=True)
        opts.markdown.write_text(text)
    if opts.json is not None:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
