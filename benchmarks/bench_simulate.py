"""Benchmark of the transaction simulator: about 1,000,000 transactions, wall time and peak RSS.

Run: ``.venv/bin/python benchmarks/bench_simulate.py`` (``--help`` for options). Each
repetition runs :func:`fraudwatch.simulate.simulate` in a fresh Python process, so the peak
resident memory (``ru_maxrss``) belongs to that simulation alone; the parent prints one line
per repetition and a summary line to paste into docs/benchmarks.md. Targets: 1M transactions
in < 30 s on 2 cores, peak RSS < 3 GB.

The machine's load is printed beside the figures (``calibration``: seconds for a 1M-step
Python loop, ~0.03 s on an idle modern core) because shared machines move them a lot.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine import calibration

TARGET_SECONDS = 30.0
TARGET_RSS_MB = 3 * 1024.0


def child(customers: int, days: int, seed: int) -> dict[str, Any]:
    """Run one simulation in this process and measure it."""
    import_start = time.perf_counter()
    from fraudwatch.simulate import SimulationConfig, simulate

    import_s = time.perf_counter() - import_start
    config = SimulationConfig(customers=customers, days=days, seed=seed)
    start = time.perf_counter()
    df = simulate(config)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "transactions": df.height,
        "fraudulent": int(df["is_fraud"].sum()),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "import_s": import_s,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,  # Linux reports KiB
        "frame_mb": df.estimated_size("mb"),
    }


def main() -> None:
    """Parse the options, run the repetitions in subprocesses and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=21_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.customers, args.days, args.seed)))
        return

    print(f"calibration (1M-step loop)  {calibration():.3f} s", flush=True)
    runs = []
    for i in range(args.repeat):
        cmd = [sys.executable, __file__, "--child"]
        cmd += ["--customers", str(args.customers), "--days", str(args.days)]
        cmd += ["--seed", str(args.seed)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        runs.append(run)
        print(
            f"run {i + 1}: {run['transactions']:,} transactions ({run['fraudulent']:,} fraud) "
            f"in {run['wall_s']:.2f} s wall, {run['cpu_s']:.2f} s CPU, "
            f"peak RSS {run['peak_rss_mb']:,.0f} MB, frame {run['frame_mb']:,.0f} MB",
            flush=True,
        )
    best = min(r["wall_s"] for r in runs)
    median = statistics.median(r["wall_s"] for r in runs)
    rss = max(r["peak_rss_mb"] for r in runs)
    n = runs[0]["transactions"]
    ok = best < TARGET_SECONDS and rss < TARGET_RSS_MB
    print(
        f"simulate: {n:,} transactions ({args.customers:,} customers x {args.days} days) "
        f"in {best:.1f} s best / {median:.1f} s median of {len(runs)}, peak RSS {rss:,.0f} MB "
        f"(targets < {TARGET_SECONDS:.0f} s, < {TARGET_RSS_MB / 1024:.0f} GB: "
        f"{'met' if ok else 'MISSED'})"
    )
    if args.json:
        summary = {"runs": runs, "best_s": best, "median_s": median, "peak_rss_mb": rss}
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
