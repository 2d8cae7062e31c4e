"""One row through the model: the compiled tree walk against LightGBM's single-row C API.

Usage (from the repository root; trains the serving benchmark's bundle first if the registry
is empty):

    .venv/bin/python benchmarks/bench_model_row.py --registry /tmp/fwbench/registry

For the bundle's LightGBM model (300 trees x 63 leaves) and its Isolation Forest (as a
LightGBM model), each row's raw score is timed through both predictors, on real feature rows
(simulated transactions through the bundle's feature set and encoder). Two conditions:
*warm*, one row after another, and *cold*, with 32 MB of memory read between two rows, as a
service does other work between requests. Runs alternate (A, B, A, B) because this machine's
speed drifts. Both predictors are checked to give identical results on every row first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench_serving import ensure_registry
from machine import calibration, memory_probe


def feature_rows(bundle: Any, n: int, seed: int) -> np.ndarray:
    """``n`` encoded feature rows of simulated transactions, in the bundle's column order."""
    from fraudwatch.features import compute_batch
    from fraudwatch.simulate import SimulationConfig, simulate

    data = simulate(SimulationConfig(customers=1500, days=14, seed=seed, fraud_rate=0.02))
    feats = compute_batch(bundle.feature_set, data)
    x = bundle.encoder.transform(feats)
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(x[rng.choice(x.shape[0], size=n, replace=False)])


def timed(fn: Any, rows: list[np.ndarray], flush: np.ndarray | None) -> np.ndarray:
    """Microseconds of ``fn(row)`` for each row; ``flush`` (if any) is read before each."""
    out = np.empty(len(rows))
    clock = time.perf_counter_ns
    for i, row in enumerate(rows):
        if flush is not None:
            flush.sum()
        t0 = clock()
        fn(row)
        out[i] = (clock() - t0) / 1000
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=Path("/tmp/fwbench/registry"))
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=2, help="A/B pairs per condition")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(argv)

    from fraudwatch.models import _isolation as iso_module
    from fraudwatch.models._forest import CompiledForest
    from fraudwatch.models._lightgbm import _default_iteration, _SingleRowPredictor
    from fraudwatch.registry import Registry

    version = ensure_registry(opts.registry, trees=300, seed=7, anomaly=True)
    bundle = Registry(opts.registry).get(version)
    model, detector = bundle.model, bundle.detector
    compiled = model._single_row()
    if not isinstance(compiled, CompiledForest):
        raise SystemExit("the compiled tree walk is not built here (make speedups)")
    booster = model.booster_
    c_api = _SingleRowPredictor(booster.model_to_string(num_iteration=_default_iteration(booster)))
    x = feature_rows(bundle, opts.rows, opts.seed)
    rows = [x[i : i + 1] for i in range(x.shape[0])]
    pairs: dict[str, tuple[Any, Any, list[np.ndarray]]] = {
        "LightGBM model": (compiled, c_api, rows),
    }
    if detector is not None:
        native = detector._native_row()
        text = detector._lightgbm_model()
        if native is not None and text is not None:
            det_rows = [iso_module.native_row_values(r.reshape(-1), native.columns) for r in rows]
            pairs["Isolation Forest"] = (native.predictor, _SingleRowPredictor(text), det_rows)
    for name, (a, b, rs) in pairs.items():
        mismatch = sum(a.raw_score(r) != b.raw_score(r) for r in rs)
        if mismatch:
            raise SystemExit(f"{name}: {mismatch} rows differ between the two predictors")
    flush = np.ones(32 * 1024 * 1024 // 8)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, calibration {calibration():.3f} s, "
        f"memory probe {memory_probe():.0f} ns, {len(rows)} rows, all equal"
    )
    results: dict[str, Any] = {}
    for name, (a, b, rs) in pairs.items():
        for cond, fl in (("warm", None), ("cold", flush)):
            for _ in range(opts.pairs):
                for label, fn in (("compiled", a.raw_score), ("LightGBM C API", b.raw_score)):
                    us = timed(fn, rs, fl)
                    p50, p99 = np.percentile(us, [50, 99])
                    results.setdefault(f"{name} / {cond} / {label}", []).append(
                        [round(float(p50), 1), round(float(p99), 1)]
                    )
    width = max(len(k) for k in results)
    for key, runs in results.items():
        shown = ", ".join(f"{p50} / {p99}" for p50, p99 in runs)
        print(f"{key:<{width}}  p50 / p99 µs: {shown}")
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
