"""Latency and throughput of ``POST /v1/score`` under paced load, over loopback.

What it does (everything on 127.0.0.1, bounded in count and time):

1. simulates card transactions and trains a LightGBM bundle of realistic size (300 trees of
   63 leaves, early stopping off, with the Isolation Forest detector), registers it as
   champion in a temporary registry;
2. for each backend (``memory+sqlite``: in-process state and SQLite, one worker;
   ``redis+postgres``: Redis state and PostgreSQL), starts ``fraudwatch serve`` with an API
   key, warms it up, then sends paced load at each rate (open loop, latency measured from
   the scheduled send time) and finally saturates it (wrk if installed, else a closed-loop
   client) to find the maximum throughput;
3. reads the per-stage cost of one request (parse, features, model, reasons, rules,
   persistence) from the server's ``fraudwatch_stage_seconds`` metrics, and the server's CPU
   time per request from ``/proc``;
4. prints a Markdown table and writes the raw numbers as JSON.

Install wrk with ``apt-get install -y wrk`` (Debian package) for the saturation run; without
it the bundled closed-loop client is used. This script installs nothing.

Usage::

    .venv/bin/python benchmarks/bench_serving.py --out benchmarks/results/serving.json
    .venv/bin/python benchmarks/bench_serving.py --backends memory+sqlite --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import LoadResult, build_request, run_closed, run_paced

REPO = Path(__file__).resolve().parents[1]
FRAUDWATCH = Path(sys.executable).parent / "fraudwatch"
PG_ADMIN = os.environ.get("FRAUDWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("FRAUDWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
STAGES = ("parse", "features", "model", "reasons", "rules", "persistence")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train_registry(
    root: Path, *, customers: int, days: int, trees: int, seed: int, anomaly: bool = True
) -> str:
    """Train the benchmark bundle and promote it; return its version."""
    from fraudwatch.registry import Registry
    from fraudwatch.simulate import SimulationConfig, simulate
    from fraudwatch.training import train_bundle

    data = simulate(SimulationConfig(customers=customers, days=days, seed=seed, fraud_rate=0.01))
    bundle = train_bundle(
        data,
        created_at=datetime(2024, 6, 1, tzinfo=UTC),
        seed=seed,
        model_params={"n_estimators": trees, "early_stopping_rounds": None},
        label_delay=timedelta(days=3),
        anomaly=anomaly,
    )
    reg = Registry(root)
    reg.register(bundle)
    reg.promote(bundle.version, "champion", at=datetime(2024, 6, 1, tzinfo=UTC))
    return bundle.version


def request_bodies(n: int, seed: int) -> list[dict[str, Any]]:
    """Realistic transactions to send (simulated after the training period), time-ordered."""
    from fraudwatch.simulate import SimulationConfig, simulate

    data = simulate(
        SimulationConfig(customers=3000, days=7, seed=seed + 1, start="2024-06-02")
    ).sort("timestamp")
    rows = []
    for r in data.head(n).iter_rows(named=True):
        rows.append(
            {
                k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in r.items()
                if v is not None and k not in ("is_fraud", "fraud_scenario")
            }
        )
    return rows


class Server:
    """``fraudwatch serve`` in a subprocess."""

    def __init__(self, args: list[str], log: Path) -> None:
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
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
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
        """User+system CPU of the server and its children (workers)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        pids = [self.proc.pid, *_children(self.proc.pid)]
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return []
    return [int(x) for x in out.split()]


def stage_totals(port: int) -> dict[str, tuple[float, float]]:
    """``{stage: (sum_seconds, count)}`` from the server's metrics."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[str, list[float]] = {s: [0.0, 0.0] for s in STAGES}
    for m in re.finditer(
        r'fraudwatch_stage_seconds_(sum|count)\{stage="(\w+)"\} ([0-9.e+-]+)', text
    ):
        kind, stage, value = m.group(1), m.group(2), float(m.group(3))
        if stage in out:
            out[stage][0 if kind == "sum" else 1] += value
    return {k: (v[0], v[1]) for k, v in out.items()}


def stage_means_us(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    means = {}
    for s in STAGES:
        ds = after[s][0] - before[s][0]
        dn = after[s][1] - before[s][1]
        means[s] = round(ds / dn * 1e6, 1) if dn else float("nan")
    return means


def make_requests(bodies: list[dict[str, Any]], run: str, key: str) -> Any:
    headers = [("Authorization", f"Bearer {key}")]
    templates = [
        json.dumps({**b, "transaction_id": "@@ID@@"}, separators=(",", ":")) for b in bodies
    ]

    def request(i: int) -> bytes:
        body = templates[i % len(templates)].replace("@@ID@@", f"{run}-{i}").encode()
        return build_request("/v1/score", body, headers)

    return request


def wrk_max(
    port: int, bodies: list[dict[str, Any]], key: str, run: str, seconds: int
) -> dict[str, Any]:
    """Saturate with wrk (2 threads, 32 connections); unique ids from a Lua counter."""
    lines = [json.dumps(json.dumps({**b, "transaction_id": "@@ID@@"})) for b in bodies[:2000]]
    lua = (
        "local bodies = {" + ",".join(lines) + "}\n"
        "local n = 0\nlocal tid = 0\nlocal threads = {}\n"
        "function setup(thread) tid = tid + 1; thread:set('tid', tid) end\n"
        "function init(args) n = 0 end\n"
        "function request()\n"
        "  n = n + 1\n"
        "  local b = bodies[(n % #bodies) + 1]:gsub('@@ID@@', '" + run + "-w' .. tid .. '-' .. n)\n"
        "  return wrk.format('POST', '/v1/score', {['Content-Type']='application/json',"
        " ['Authorization']='Bearer " + key + "'}, b)\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c32",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script,
                f"http://127.0.0.1:{port}/v1/score",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(script)

    def ms(token: str) -> float:
        value = float(re.match(r"[0-9.]+", token).group(0))  # type: ignore[union-attr]
        return (
            value / 1000
            if token.endswith("us")
            else value * 1000
            if token.endswith("s") and not token.endswith("ms")
            else value
        )

    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    mx = ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "tool": "wrk -t2 -c32",
        "throughput_rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": mx,
        "non_200": float(non2xx.group(1)) if non2xx else 0.0,
        "raw": out,
    }


def bench_backend(
    name: str,
    serve_args: list[str],
    db_url: str,
    bodies: list[dict[str, Any]],
    rates: list[float],
    duration: float,
    workdir: Path,
) -> dict[str, Any]:
    from fraudwatch.store import open_store

    with open_store(db_url, upgrade=True) as store:
        _, key = store.create_api_key("bench", ["score"])
    server = Server([*serve_args, "--db", db_url], workdir / f"{name}.log")
    results: dict[str, Any] = {"backend": name, "args": serve_args, "rates": []}
    run = f"{name}-{int(time.time())}"
    try:
        server.wait_ready()
        req = make_requests(bodies, run, key)
        counter = {"i": 0}

        def next_request(_: int) -> bytes:
            counter["i"] += 1
            return req(counter["i"])

        asyncio.run(run_paced(server.port, next_request, rate=200, duration_s=3))  # warm-up
        # Stage costs at a low rate, where no request waits for another: the cost of one.
        before, cpu0 = stage_totals(server.port), server.cpu_seconds()
        probe = asyncio.run(run_paced(server.port, next_request, rate=50, duration_s=6))
        after, cpu1 = stage_totals(server.port), server.cpu_seconds()
        results["stages_us"] = stage_means_us(before, after)
        results["idle_latency"] = probe.summary()
        results["cpu_ms_per_request_50rps"] = round(
            (cpu1 - cpu0) / max(1, len(probe.latencies)) * 1000, 3
        )
        print(f"  {name} stages at 50/s (µs): {results['stages_us']}", flush=True)
        for rate in rates:
            before, cpu0 = stage_totals(server.port), server.cpu_seconds()
            res: LoadResult = asyncio.run(
                run_paced(server.port, next_request, rate=rate, duration_s=duration)
            )
            after, cpu1 = stage_totals(server.port), server.cpu_seconds()
            row = {"target_rps": rate, **res.summary(), "stages_us": stage_means_us(before, after)}
            row["server_cpu_ms_per_request"] = round(
                (cpu1 - cpu0) / max(1, len(res.latencies)) * 1000, 3
            )
            results["rates"].append(row)
            print(
                f"  {name} @ {rate:>6.0f}/s: {json.dumps({k: v for k, v in row.items() if k != 'stages_us'})}",
                flush=True,
            )
        before, cpu0 = stage_totals(server.port), server.cpu_seconds()
        if shutil.which("wrk"):
            mx = wrk_max(server.port, bodies, key, run + "-max", int(duration))
        else:
            res = asyncio.run(
                run_closed(server.port, next_request, duration_s=duration, connections=32)
            )
            mx = {"tool": "closed-loop asyncio, 32 connections", **res.summary()}
        after, cpu1 = stage_totals(server.port), server.cpu_seconds()
        mx["stages_us"] = stage_means_us(before, after)
        results["max"] = mx
        print(
            f"  {name} max: {json.dumps({k: v for k, v in mx.items() if k not in ('raw', 'stages_us')})}",
            flush=True,
        )
    finally:
        server.stop()
    return results


def markdown(all_results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Machine: {meta['machine']}; load average at start {meta['loadavg']}; "
        f"model: {meta['model']}; command: `{meta['command']}`",
        "",
        "| backend | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | non-200 | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in all_results:
        for row in r["rates"]:
            lines.append(
                f"| {r['backend']} | {row['target_rps']:.0f} | {row['throughput_rps']:.0f} | "
                f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['p999_ms']:.2f} | "
                f"{row['max_ms']:.1f} | {row['non_200']:.0f} | {row['server_cpu_ms_per_request']:.2f} |"
            )
        mx = r["max"]
        lines.append(
            f"| {r['backend']} | max ({mx['tool']}) | {mx['throughput_rps']:.0f} | "
            f"{mx['p50_ms']:.2f} | {mx['p99_ms']:.2f} | - | {mx.get('max_ms', float('nan')):.1f} | "
            f"{mx['non_200']:.0f} | - |"
        )
    lines += [
        "",
        "Per-stage mean cost of one request (µs) at 50 req/s (no queueing), with the p50 "
        "latency seen by the client and the server's CPU per request:",
        "",
    ]
    lines.append("| backend | " + " | ".join(STAGES) + " | client p50 ms | server CPU ms/req |")
    lines.append("|---|" + "---:|" * (len(STAGES) + 2))
    for r in all_results:
        st = r["stages_us"]
        lines.append(
            f"| {r['backend']} | "
            + " | ".join(f"{st[s]:.0f}" for s in STAGES)
            + f" | {r['idle_latency']['p50_ms']:.2f} | {r['cpu_ms_per_request_50rps']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="memory+sqlite,redis+postgres")
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="workers for redis+postgres")
    parser.add_argument("--explain", default="flagged")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--no-anomaly", action="store_true", help="train the bundle without the Isolation Forest"
    )
    args = parser.parse_args()

    rates = [float(x) for x in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(f"training the bundle ({args.trees} trees) in {work} ...", flush=True)
    t = time.perf_counter()
    version = train_registry(
        work / "registry",
        customers=2000,
        days=28,
        trees=args.trees,
        seed=args.seed,
        anomaly=not args.no_anomaly,
    )
    detector = "no anomaly detector" if args.no_anomaly else "+ Isolation Forest"
    meta["model"] = f"LightGBM {args.trees} trees x 63 leaves {detector} ({version})"
    print(f"  trained in {time.perf_counter() - t:.0f}s", flush=True)
    bodies = request_bodies(20_000, args.seed)
    results = []
    try:
        for backend in args.backends.split(","):
            common = ["--registry", str(work / "registry"), "--explain", args.explain]
            if backend == "memory+sqlite":
                results.append(
                    bench_backend(
                        backend,
                        [*common, "--state", "memory"],
                        f"sqlite:///{work / 'bench.db'}",
                        bodies,
                        rates,
                        args.duration,
                        work,
                    )
                )
            elif backend == "redis+postgres":
                import psycopg
                import redis

                db = f"fw_bench_{int(time.time())}"
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{db}"')
                prefix = f"fwbench:{int(time.time())}:"
                try:
                    results.append(
                        bench_backend(
                            backend,
                            [
                                *common,
                                "--state",
                                REDIS,
                                "--state-prefix",
                                prefix,
                                "--workers",
                                str(args.workers),
                            ],
                            f"postgresql://postgres@127.0.0.1:5432/{db}",
                            bodies,
                            rates,
                            args.duration,
                            work,
                        )
                    )
                finally:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                    client = redis.Redis.from_url(REDIS)
                    keys = list(client.scan_iter(match=prefix + "*", count=1000))
                    for i in range(0, len(keys), 500):
                        client.delete(*keys[i : i + 500])
                    client.close()
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = markdown(results, meta)
    print("\n" + table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for r in results:
            r.get("max", {}).pop("raw", None)
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
