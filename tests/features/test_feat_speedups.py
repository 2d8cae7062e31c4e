"""The compiled online feature modules: in use when built, equal to the Python source."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from feat_streams import random_stream
from polars.testing import assert_frame_equal

from fraudwatch import _speedups
from fraudwatch.features import OnlineExecutor, default_feature_set

ROOT = Path(__file__).resolve().parents[2]

_REPLAY = """
import json, sys
import polars as pl
from fraudwatch._speedups import compiled_modules
from fraudwatch.features import OnlineExecutor, default_feature_set
stream = pl.read_parquet(sys.argv[1])
OnlineExecutor(default_feature_set()).replay(stream).write_parquet(sys.argv[2])
print(json.dumps(compiled_modules()))
"""


def _built() -> bool:
    return _speedups.MANIFEST.is_file()


def test_build_in_use_when_made() -> None:
    """Check that after `make speedups` every listed module runs compiled, not as Python."""
    if not _built():
        pytest.skip("no compiled build here (make speedups); the Python source runs")
    assert _speedups.compiled_modules() == dict.fromkeys(_speedups.COMPILED, True)


def test_compiled_and_python_give_identical_features(tmp_path: Path) -> None:
    """Check, on a random stream with ties, gaps and labels, that both builds agree exactly."""
    stream = pl.concat([random_stream(seed, 400) for seed in (3, 4)]).sort("timestamp")
    source, pure_out = tmp_path / "stream.parquet", tmp_path / "pure.parquet"
    stream.write_parquet(source)
    env = {"FRAUDWATCH_PURE_PYTHON": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _REPLAY, str(source), str(pure_out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"fraudwatch.features.state._memory": false' in done.stdout
    here = OnlineExecutor(default_feature_set()).replay(stream)
    assert_frame_equal(here, pl.read_parquet(pure_out), check_exact=True)


def test_stale_build_is_not_imported() -> None:
    """Check that a build whose source changed since is skipped for the source, with a warning."""
    if not _built():
        pytest.skip("no compiled build here (make speedups)")
    probe = """
import sys, warnings
import fraudwatch._speedups as s
finder = next(f for f in sys.meta_path if isinstance(f, s._Finder))
finder._recorded = {name: "0" * 64 for name in s.COMPILED}  # as if every source had changed
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    states = s.compiled_modules()
print(set(states.values()), sum("does not match" in str(w.message) for w in caught))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{False}", str(len(_speedups.COMPILED))]


def test_makefile_rebuilds_on_every_compiled_source() -> None:
    """Check that the Makefile's dependency list names exactly the compiled modules."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"SPEEDUP_SOURCES := \$\(addprefix src/fraudwatch/features/,(.*)\)", text)
    assert match is not None
    listed = {
        "fraudwatch.features." + p.removesuffix(".py").replace("/", ".") for p in match[1].split()
    }
    assert listed == set(_speedups.COMPILED)
    native = re.search(r"NATIVE_SOURCES := (.*)", text)
    assert native is not None
    assert {
        p.removeprefix("src/").removesuffix(".pyx").replace("/", ".") for p in native[1].split()
    } == set(_speedups.NATIVE)


_NATIVE_PROBE = """
import sys, warnings
import fraudwatch._speedups as s
finder = next(f for f in sys.meta_path if isinstance(f, s._Finder))
if sys.argv[1] == "stale":
    finder._recorded = {name: "0" * 64 for name in s.NATIVE}  # as if the .pyx had changed
if sys.argv[1] == "no-source":  # as if installed without the .pyx (and no manifest)
    import pathlib
    is_file = pathlib.Path.is_file
    pathlib.Path.is_file = lambda p: p.suffix != ".pyx" and is_file(p)
    finder._recorded = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import fraudwatch.models._treewalk
        state = "loaded"
    except ImportError as exc:
        state = "refused"
from fraudwatch.models import LightGBMModel
print(state, sum("does not match" in str(w.message) for w in caught))
"""


@pytest.mark.parametrize(
    ("case", "env", "expected"),
    [
        ("current", {}, ["loaded", "0"]),
        ("stale", {}, ["refused", "1"]),
        ("current", {"FRAUDWATCH_PURE_PYTHON": "1"}, ["refused", "0"]),
        ("no-source", {}, ["loaded", "0"]),
        ("no-source", {"FRAUDWATCH_PURE_PYTHON": "1"}, ["refused", "0"]),
    ],
)
def test_native_build_loaded_only_when_current(
    case: str, env: dict[str, str], expected: list[str]
) -> None:
    """Check that a typed module's build loads only while it matches its .pyx (no fallback
    source: the import fails and its callers keep LightGBM), and never in pure-Python mode."""
    if not _built():
        pytest.skip("no compiled build here (make speedups)")
    done = subprocess.run(
        [sys.executable, "-c", _NATIVE_PROBE, case],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected
