"""The outside benchmark: the Fraud Detection Handbook's protocols A and B through fraudwatch.

Run from the repository root::

    .venv/bin/python benchmarks/handbook.py --protocol both --out handbook-results.json

It reads ``../shared/data/handbook-raw.parquet`` (``--data``, or the environment variable
``FRAUDWATCH_HANDBOOK_PATH``) with the ``handbook`` profile, computes the features once over
the whole file with :func:`fraudwatch.features.compute_batch` (point-in-time, labels used 7
days after each transaction; cached under the temporary directory, never in the repository)
and checks on protocol A's test week that this equals computing the week from earlier rows
only. It then tries every pair of feature set (``--features``: the handbook's 15 features,
the product's default set, the default set extended) and hyper-parameters of a small grid on
the four validation folds, chooses one pair by mean validation average precision, and
evaluates that one on the test folds with :func:`fraudwatch.evaluation.backtest` (test sets
without the cards already known compromised, as in the handbook). It prints our figures
beside the published table and writes a JSON report: per-fold and mean ± std metrics, the
chosen pair, every candidate's validation scores, reference CP@100 ceilings (label oracles),
timings, library versions and the git commit.

Training uses one thread by default (``--threads``): on a shared machine LightGBM with
every thread ran ten times slower. See docs/quality.md for the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

# the sibling module: ``python benchmarks/handbook.py`` puts this folder first on sys.path
from handbook_protocol import (
    FEATURE_VARIANTS,
    HANDBOOK_DELAY,
    METRICS,
    PROTOCOL_A_TEST,
    PUBLISHED,
    Candidate,
    FoldScore,
    Selection,
    attach_features,
    check_point_in_time,
    evaluate_candidate,
    feature_set_for,
    handbook_test_set,
    hidden_terminal_frauds,
    make_train_fn,
    oracle_card_precision,
    protocol_a_fold,
    protocol_folds,
    summarise,
    tune_on_validation,
    union_feature_set,
    variant_candidates,
)

log = logging.getLogger("handbook")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "handbook-raw.parquet"
ENV_DATA = "FRAUDWATCH_HANDBOOK_PATH"
_LABELS = {"roc_auc": "ROC AUC", "average_precision": "AP", "card_precision_at_k": "CP@100"}
_LIBRARIES = {
    "polars": ("polars",),
    "numpy": ("numpy",),
    "pyarrow": ("pyarrow",),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "scikit-learn": ("scikit-learn",),
    "fraudwatch": ("fraudwatch",),
}


def default_data_path() -> Path:
    """``$FRAUDWATCH_HANDBOOK_PATH`` if set, else ``../shared/data/handbook-raw.parquet``."""
    env = os.environ.get(ENV_DATA)
    return Path(env) if env else DEFAULT_DATA


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        description="Run the Fraud Detection Handbook's protocols A and B through fraudwatch.",
        epilog="Example: .venv/bin/python benchmarks/handbook.py --protocol both "
        "--out handbook-results.json",
    )
    p.add_argument("--protocol", choices=("A", "B", "both"), default="both")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"handbook-raw.parquet (default: ${ENV_DATA} or {DEFAULT_DATA})",
    )
    p.add_argument("--model", choices=("lightgbm", "xgboost", "logreg"), default="lightgbm")
    p.add_argument(
        "--features",
        nargs="+",
        choices=FEATURE_VARIANTS,
        default=list(FEATURE_VARIANTS),
        help="feature sets to try on the validation folds (default: all three): 'handbook' "
        "the handbook's 15 features, 'default' the product's default set, 'extended' the "
        "default set plus EXTENDED_FEATURES (benchmarks/handbook_protocol.py)",
    )
    p.add_argument("--out", type=Path, default=Path("handbook-results.json"))
    p.add_argument("--threads", type=int, default=1, help="training threads (default 1)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "fraudwatch-handbook",
        help="where computed features are cached (default: the temporary directory)",
    )
    p.add_argument("--no-cache", action="store_true", help="always recompute the features")
    p.add_argument(
        "--skip-pit-check",
        action="store_true",
        help="skip recomputing protocol A's test week from earlier rows only",
    )
    args = p.parse_args(argv)
    args.features = list(dict.fromkeys(args.features))
    if args.data is None:
        args.data = default_data_path()
    if args.threads < 1:
        p.error("--threads must be at least 1")
    return args


# ----------------------------------------------------------------------------- run facts
def git_facts() -> dict[str, Any]:
    """The commit and whether the tree has uncommitted changes (read-only git calls)."""

    def run(*cmd: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *cmd], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def versions() -> dict[str, str | None]:
    """Versions of Python and the libraries that shape the results."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name, distributions in _LIBRARIES.items():
        out[name] = None
        for dist in distributions:
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def machine() -> dict[str, Any]:
    """Platform, CPU count and load when the run started."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# ----------------------------------------------------------------------------- features
def load_features(
    fs: Any, data: pl.DataFrame, fingerprint: str, cache_dir: Path | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``compute_batch(fs, data)``, read from or written to the cache folder."""
    from fraudwatch.features import compute_batch

    key = hashlib.sha256(f"{fingerprint}:{fs.hash}".encode()).hexdigest()[:24]
    path = None if cache_dir is None else cache_dir / f"features-{key}.parquet"
    start = time.perf_counter()
    if path is not None and path.exists():
        features = pl.read_parquet(path)
        if features.columns == ["transaction_id", *fs.names] and features.height == data.height:
            log.info("features read from the cache %s", path)
            return features, {"cache": str(path), "cached": True, "seconds": _since(start)}
        log.warning("ignoring the cache %s: it does not match this feature set", path)
    log.info("computing %d features over %s rows", len(fs), f"{data.height:,}")
    features = compute_batch(fs, data)
    seconds = _since(start)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        features.write_parquet(tmp)
        tmp.replace(path)
    return features, {
        "cache": None if path is None else str(path),
        "cached": False,
        "seconds": seconds,
    }


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


# ----------------------------------------------------------------------------- report
def _fmt(summary: dict[str, dict[str, float | None]], name: str, with_std: bool) -> str:
    mean, std = summary[name]["mean"], summary[name]["std"]
    if mean is None:
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}" if with_std and std is not None else f"{mean:.3f}"


def print_table(protocol: str, ours: dict[str, Any], label: str) -> None:
    """Our figures beside the published rows of ``protocol``."""
    summary = ours["summary"]
    n = len(ours["folds"])
    title = "single split" if protocol == "A" else f"mean ± std over {n} test folds"
    print(f"\nProtocol {protocol} ({title})")
    header = f"  {'model':<44}" + "".join(f"{_LABELS[m]:>16}" for m in METRICS)
    print(header)
    print("  " + "-" * (len(header) - 2))
    print(f"  {label:<44}" + "".join(f"{_fmt(summary, m, protocol == 'B'):>16}" for m in METRICS))
    for row in PUBLISHED:
        if row.protocol == protocol:
            cells = "".join(f"{row.metric(m):>16.3f}" for m in METRICS)
            print(f"  {'published: ' + row.model:<44}{cells}")
    for s in ours["folds"]:
        name = f"fold: test {s['test']['start']} ({s['n_test']:,} tx, {s['n_test_fraud']} fraud)"
        cells = "".join(f"{s[m]:>16.3f}" if s[m] is not None else f"{'n/a':>16}" for m in METRICS)
        print(f"    {name:<42}{cells}")


def goal(protocol: str, summary: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """Whether our mean beats every published row of ``protocol`` on each metric."""
    out: dict[str, Any] = {}
    for name in METRICS:
        best = max(r.metric(name) for r in PUBLISHED if r.protocol == protocol)
        ours = summary[name]["mean"]
        out[name] = {
            "ours": ours,
            "best_published": best,
            "beaten": ours is not None and ours > best,
        }
    out["all_beaten"] = all(out[m]["beaten"] for m in METRICS)
    return out


def references(
    frame: pl.DataFrame, folds: dict[str, dict[str, list[Any]]], protocols: list[str], *, seed: int
) -> dict[str, Any]:
    """CP@100 of two label oracles on every validation and test fold (reading aids only).

    ``all_labels`` knows every label; ``without_hidden_frauds`` knows every label except the
    compromised-terminal frauds no known label can reveal yet (see
    :func:`handbook_protocol.hidden_terminal_frauds`) — the ceiling of any model that only
    sees labels 7 days old.
    """
    hidden = hidden_terminal_frauds(frame)
    out: dict[str, Any] = {
        "note": "label oracles, computed from the labels alone; no model, no choice depends "
        "on them",
        "hidden_frauds": int(hidden.sum()),
    }
    parts = {"validation": folds[protocols[0]]["validation"]}
    for p in protocols:
        parts[f"test_{p}"] = folds[p]["test"]
    for part, fold_list in parts.items():
        rows = []
        for fold in fold_list:
            rows.append(
                {
                    "test": fold.test.to_dict(),
                    "all_labels": oracle_card_precision(frame, fold, seed=seed),
                    "without_hidden_frauds": oracle_card_precision(
                        frame, fold, hidden=hidden, seed=seed
                    ),
                }
            )
        means: dict[str, float | None] = {}
        for key in ("all_labels", "without_hidden_frauds"):
            values = [r[key] for r in rows if r[key] is not None]
            means[key] = sum(values) / len(values) if values else None
        out[part] = {"folds": rows, "mean": means}
    return out


def print_references(ref: dict[str, Any]) -> None:
    """The oracle CP@100 means."""
    print("\nCP@100 of label oracles (mean over folds; reading aids, not models)")
    for part, value in ref.items():
        if isinstance(value, dict) and "mean" in value:
            a, h = (value["mean"][key] for key in ("all_labels", "without_hidden_frauds"))
            print(
                f"  {part:<12} all labels {_num(a)}   without the frauds no label reveals "
                f"yet {_num(h)}"
            )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def protocol_result(scores: list[FoldScore]) -> dict[str, Any]:
    """Fold scores and their summary."""
    return {"folds": [s.to_dict() for s in scores], "summary": summarise(scores)}


# ----------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return the JSON-ready report."""
    from fraudwatch.io import read_transactions
    from fraudwatch.training import data_fingerprint

    started = datetime.now(UTC)
    timings: dict[str, float] = {}
    report: dict[str, Any] = {
        "benchmark": "Fraud Detection Handbook, protocols A and B",
        "command": " ".join(["benchmarks/handbook.py", *sys.argv[1:]]),
        "started_at": started.isoformat(),
        "git": git_facts(),
        "machine": machine(),
        "versions": versions(),
    }

    t = time.perf_counter()
    if not args.data.exists():
        raise SystemExit(
            f"error: {args.data} does not exist; pass --data PATH or set ${ENV_DATA} to the "
            "handbook's handbook-raw.parquet"
        )
    read = read_transactions(args.data, profile="handbook")
    data = read.data
    timings["read"] = _since(t)
    t = time.perf_counter()
    fingerprint = data_fingerprint(data)
    timings["fingerprint"] = _since(t)
    report["data"] = {
        "path": str(args.data),
        "rows": data.height,
        "rejected": read.rejected.height,
        "frauds": int(data["is_fraud"].sum()),
        "fingerprint": fingerprint,
    }
    log.info("read %s rows from %s", f"{data.height:,}", args.data)

    variants = {v: feature_set_for(data.columns, v) for v in args.features}
    sets = {v: fs for v, (fs, _, _) in variants.items()}
    union = union_feature_set(list(sets.values()))
    features, cache = load_features(
        union, data, fingerprint, None if args.no_cache else args.cache_dir
    )
    timings["features"] = cache["seconds"]
    frame = attach_features(data, features)
    report["features"] = {
        "label_delay_days": HANDBOOK_DELAY.days,
        "computed": {"names": union.names, "hash": union.hash, "cache": cache},
        "variants": {
            v: {
                "set": fs.name,
                "hash": fs.hash,
                "names": fs.names,
                "beyond_default_set": extra,
                "left_out": [{"feature": f, "reason": r} for f, r in dropped],
            }
            for v, (fs, dropped, extra) in variants.items()
        },
    }

    fold_a = protocol_a_fold()
    if not args.skip_pit_check:
        log.info("checking point-in-time equivalence on %s", fold_a.test)
        check = check_point_in_time(union, data, features, fold_a.test)
        report["features"]["point_in_time_check"] = check
        timings["point_in_time_check"] = check["seconds"]
    del features
    test_a = handbook_test_set(frame, fold_a)
    n_a, f_a = test_a.height, int(test_a["is_fraud"].sum())
    report["protocol_a_test_set"] = {
        "rows": n_a,
        "frauds": f_a,
        "handbook": {"rows": PROTOCOL_A_TEST[0], "frauds": PROTOCOL_A_TEST[1]},
        "matches": (n_a, f_a) == PROTOCOL_A_TEST,
    }
    if (n_a, f_a) != PROTOCOL_A_TEST:
        log.warning(
            "protocol A test set: %d rows / %d frauds, handbook %s", n_a, f_a, PROTOCOL_A_TEST
        )

    def evaluate(cand: Candidate, folds: Sequence[Any]) -> list[FoldScore]:
        train = make_train_fn(
            sets[cand.features], args.model, cand.params, seed=args.seed, num_threads=args.threads
        )
        return evaluate_candidate(frame, folds, train)

    def progress(cand: Candidate, scores: list[FoldScore]) -> None:
        s = summarise(scores)
        log.info(
            "validation %-36s AUC %.4f  AP %.4f  CP@100 %.4f  (%.0f s)",
            cand.name,
            s["roc_auc"]["mean"] or float("nan"),
            s["average_precision"]["mean"] or float("nan"),
            s["card_precision_at_k"]["mean"] or float("nan"),
            sum(x.seconds for x in scores),
        )

    protocols = ["A", "B"] if args.protocol == "both" else [args.protocol]
    folds = {p: protocol_folds(p) for p in protocols}
    t = time.perf_counter()
    selection: Selection = tune_on_validation(
        variant_candidates(args.model, args.features),
        folds[protocols[0]]["validation"],
        evaluate,
        on_candidate=progress,
    )
    timings["selection"] = _since(t)
    report["model"] = args.model
    report["seed"] = args.seed
    report["threads"] = args.threads
    report["selection"] = selection.to_dict()
    report["features"]["chosen"] = selection.chosen.features

    results: dict[str, Any] = {}
    label = f"fraudwatch {args.model} ({selection.chosen.features} features)"
    t = time.perf_counter()
    test_b: list[FoldScore] | None = None
    if "B" in protocols:
        test_b = evaluate(selection.chosen, folds["B"]["test"])
        results["B"] = protocol_result(test_b)
    if "A" in protocols:
        same = [
            s for s in test_b or [] if s.fold.train == fold_a.train and s.fold.test == fold_a.test
        ]
        # protocol A's split is protocol B's oldest test fold: the same training and test rows
        scores_a = same or evaluate(selection.chosen, folds["A"]["test"])
        results["A"] = protocol_result(scores_a)
    timings["test"] = _since(t)
    for p in protocols:
        results[p]["goal"] = goal(p, results[p]["summary"])
    report["protocols"] = results
    t = time.perf_counter()
    report["reference_card_precision"] = references(frame, folds, protocols, seed=args.seed)
    timings["references"] = _since(t)
    report["published"] = [
        {"model": r.model, "protocol": r.protocol, **{m: r.metric(m) for m in METRICS}}
        for r in PUBLISHED
    ]
    report["timings_seconds"] = timings
    report["finished_at"] = datetime.now(UTC).isoformat()

    print(
        f"\nChosen on the validation folds: {selection.chosen.name} {dict(selection.chosen.params)}"
    )
    for p in ("A", "B"):
        if p in results:
            print_table(p, results[p], label)
    print_references(report["reference_card_precision"])
    if "B" in results:
        ok = results["B"]["goal"]["all_beaten"]
        print(f"\nProtocol B beats every published row on all three metrics: {ok}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print the table, write the JSON report."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("fraudwatch").setLevel(logging.WARNING)  # one line per fold is noise
    args = parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    print(f"JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
