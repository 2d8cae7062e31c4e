"""The compiled tree walk gives LightGBM's raw scores and leaves, bit for bit."""

from __future__ import annotations

import re
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.models._forest import CompiledForest, compiled_forest, parse_lightgbm_trees
from fraudwatch.models._lightgbm import row_predictor

try:
    from fraudwatch.models import _treewalk as treewalk
except (ImportError, RuntimeWarning):  # not built, or a stale build under -W error
    pytest.skip("the compiled tree walk is not built (make speedups)", allow_module_level=True)

N_CATS = 70
"""Category codes 0..69: a split's bitset spans three 32-bit words."""


def _data(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns with NaNs and exact zeros, one wide categorical column (4)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 5))
    x[:, 0] = rng.lognormal(3.0, 1.0, n)
    x[:, 1] = rng.normal(size=n)
    x[:, 2] = rng.poisson(1.0, n).astype(float)  # many exact zeros
    x[:, 3] = rng.integers(0, 24, n)
    x[:, 4] = rng.integers(0, N_CATS, n)
    logit = -3 + 0.8 * (np.log(x[:, 0]) - 3) + x[:, 1] + 0.5 * x[:, 2] + 2.0 * (x[:, 4] % 7 == 3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    x[rng.random(n) < 0.08, 1] = np.nan
    x[rng.random(n) < 0.05, 2] = np.nan
    x[rng.random(n) < 0.03, 4] = np.nan
    return x, y


def _train(**params: Any) -> lgb.Booster:
    x, y = _data(3)
    base = {
        "objective": "binary",
        "num_leaves": 31,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": 4,
        "verbose": -1,
        "num_threads": 1,
        "seed": 1,
    }
    base.update(params)
    ds = lgb.Dataset(x, y, categorical_feature=[4], params={"verbose": -1})
    return lgb.train(base, ds, num_boost_round=int(base.pop("rounds", 80)))


BOOSTERS: dict[str, dict[str, Any]] = {
    "nan_missing": {},
    "zero_as_missing": {"zero_as_missing": True},
    "no_missing": {"use_missing": False},
    "deep_leafwise": {"num_leaves": 255, "min_data_in_leaf": 2, "rounds": 20},
}


@pytest.fixture(scope="module", params=sorted(BOOSTERS))
def booster(request: pytest.FixtureRequest) -> lgb.Booster:
    """A booster per way LightGBM treats missing values, and one with very deep trees."""
    return _train(**BOOSTERS[request.param])


_MADE: dict[int, tuple[lgb.Booster, CompiledForest, list[float]]] = {}


def _made(booster: lgb.Booster) -> tuple[CompiledForest, list[float]]:
    """The booster's compiled walk and every threshold of its text, made once per booster."""
    made = _MADE.get(id(booster))
    if made is None or made[0] is not booster:
        text = booster.model_to_string()
        forest = compiled_forest(text)
        assert forest is not None
        lines = [ln for ln in text.splitlines() if ln.startswith("threshold=")]
        thresholds = [float(v) for ln in lines for v in ln.split("=", 1)[1].split()]
        made = _MADE[id(booster)] = (booster, forest, thresholds)
    return made[1], made[2]


def _forest(booster: lgb.Booster) -> CompiledForest:
    return _made(booster)[0]


def _thresholds(booster: lgb.Booster) -> list[float]:
    return _made(booster)[1]


def _assert_same(booster: lgb.Booster, rows: np.ndarray) -> None:
    forest = _forest(booster)
    raw = booster.predict(rows, raw_score=True, num_threads=1)
    leaves = booster.predict(rows, pred_leaf=True, num_threads=1)
    for i in range(rows.shape[0]):
        row = rows[i : i + 1]
        assert forest.raw_score(row) == raw[i], f"row {i}: {row}"
        np.testing.assert_array_equal(forest.leaf_indices(row), leaves[i : i + 1])


def test_training_rows_score_exactly(booster: lgb.Booster) -> None:
    """Check raw scores and leaves of real rows (NaNs, zeros, every category) against LightGBM."""
    x, _ = _data(11, 600)
    _assert_same(booster, x)


_special = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        0.0,
        -0.0,
        1e-36,  # within LightGBM's 1e-35 of zero: read as 0.0
        -1e-36,
        1.0000000180025095e-35,  # the zero threshold itself
        2e-35,
        5e-324,
        -0.5,  # category codes: truncated to 0
        -1.0,
        31.0,  # the last bit of the first word
        32.0,  # the first bit of the second word
        float(N_CATS + 40),  # beyond the bitset
        2147483647.0,
        2147483648.0,  # beyond int: right
        1e300,
    ]
)


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_random_rows_score_exactly(booster: lgb.Booster, data: st.DataObject) -> None:
    """Check rows of thresholds themselves, their neighbours, zeros, NaN, inf and odd codes."""
    thresholds = _thresholds(booster)
    near = st.sampled_from(thresholds).flatmap(
        lambda t: st.sampled_from([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)])
    )
    value = st.one_of(
        _special, near, st.floats(-1e4, 1e4, allow_nan=False), st.integers(-3, 80).map(float)
    )
    rows = np.array([[data.draw(value) for _ in range(5)] for _ in range(4)], dtype=np.float64)
    _assert_same(booster, rows)


@pytest.mark.parametrize(("best", "expected"), [(25, 25), (0, 60), (-1, 60)])
def test_best_iteration_only(best: int, expected: int) -> None:
    """Check that a booster's one-row predictor walks the trees predict() uses by default:
    its best iteration when set, else every tree."""
    booster = _train(rounds=60)
    booster.best_iteration = best
    forest = row_predictor(booster)
    assert isinstance(forest, CompiledForest)
    assert forest.n_trees == expected
    x, _ = _data(5, 200)
    raw = booster.predict(x, raw_score=True, num_threads=1)  # best_iteration by default
    assert [forest.raw_score(x[i : i + 1]) for i in range(200)] == raw.tolist()


def test_single_leaf_trees() -> None:
    """Check a tree that never splits (too few rows per leaf): its one leaf value (LightGBM
    then stops boosting)."""
    booster = _train(min_data_in_leaf=100_000, rounds=5)
    assert "num_leaves=1" in booster.model_to_string()
    forest = _forest(booster)
    x, _ = _data(6, 50)
    _assert_same(booster, x)
    assert forest.n_trees >= 1
    assert forest.leaf_indices(x[:1]).tolist() == [[0] * forest.n_trees]


def test_row_shape_and_type_are_checked() -> None:
    """Check that a row of another size or type is refused, not read out of bounds."""
    forest = _forest(_train(rounds=3))
    with pytest.raises(ValueError, match="5 features"):
        forest.raw_score(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="float64"):
        forest.raw_score(np.zeros((1, 5), dtype=np.float32))
    assert forest.raw_score(np.zeros(5)) == forest.raw_score(np.zeros((1, 5)))


def test_models_not_reproduced_are_refused() -> None:
    """Check that multiclass, linear-tree and averaged (random forest) models keep LightGBM."""
    x, y = _data(4, 800)
    multi = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, y + (x[:, 3] > 12), params={"verbose": -1}),
        num_boost_round=3,
    )
    linear = lgb.train(
        {"objective": "binary", "linear_tree": True, "verbose": -1, "num_threads": 1},
        lgb.Dataset(np.nan_to_num(x[:, :4]), y, params={"verbose": -1}),
        num_boost_round=3,
    )
    forest = lgb.train(
        {
            "objective": "binary",
            "boosting": "rf",
            "bagging_freq": 1,
            "bagging_fraction": 0.5,
            "verbose": -1,
            "num_threads": 1,
        },
        lgb.Dataset(x, y, params={"verbose": -1}),
        num_boost_round=3,
    )
    for model, why in ((multi, "multiclass"), (linear, "linear"), (forest, "averaged")):
        with pytest.raises(ValueError, match=why):
            parse_lightgbm_trees(model.model_to_string())
        assert compiled_forest(model.model_to_string()) is None


def _arrays(booster: lgb.Booster) -> list[np.ndarray]:
    layout, _ = parse_lightgbm_trees(booster.model_to_string())
    return list(layout.arrays())


def test_inconsistent_layouts_are_refused() -> None:
    """Check that arrays pointing outside themselves are refused before any walk."""
    arrays = _arrays(_train(rounds=3))
    treewalk.Forest(*arrays, 5)  # as parsed: accepted
    flags = arrays[3]
    split = int(np.flatnonzero((flags & 1) == 0)[0])
    leaf = int(np.flatnonzero(flags & 1)[0])
    cat = int(np.flatnonzero(flags & 2)[0])
    cases = [  # (message, array, index, bad value)
        ("right child", 1, split, len(arrays[0]) + 3),
        ("right child at", 1, split, split),  # backwards: the walk could loop
        ("splits on feature", 2, split, 9),
        ("leaf .* split flags", 3, leaf, 1 | 2),
        ("refers to categorical split", 0, cat, float("nan")),  # checked before any cast
        ("refers to categorical split", 0, cat, 1e12),
        ("starts outside", 4, 0, -1),
        ("starts outside", 4, 0, len(arrays[0])),
        ("outside the bitsets", 7, 1, 2**31 - 1),  # 3 + (2**31 - 1) wraps in 32 bits
        ("outside the bitsets", 6, 1, -1),
        ("outside the bitsets", 7, 1, -1),
    ]
    assert arrays[6][1] > 0  # the wrap case needs a start above 0
    for message, which, at, bad in cases:
        broken = [a.copy() for a in arrays]
        broken[which][at] = bad
        with pytest.raises(ValueError, match=message):
            treewalk.Forest(*broken, 5)
    with pytest.raises(ValueError, match="node arrays differ in length"):
        treewalk.Forest(arrays[0][:-1], *arrays[1:], 5)
    with pytest.raises(ValueError, match="categorical arrays differ in length"):
        treewalk.Forest(*arrays[:7], arrays[7][:-1], 5)
    forest = treewalk.Forest(*arrays, 5)
    with pytest.raises(RuntimeError, match="initialised once"):
        forest.__init__(*arrays, 5)
    with pytest.raises(ValueError, match="at least one feature"):
        treewalk.Forest(*arrays, 0)


def _tree_line(text: str, index: int, key: str) -> list[str]:
    """The values of the ``key=`` line of tree ``index``."""
    line = re.search(rf"^{key}=(.*)$", text.split("Tree=")[index + 1], flags=re.M)
    assert line is not None
    return line[1].split()


def _edit_tree(text: str, index: int, key: str, edit: Any) -> str:
    """``text`` with the ``key=`` line of tree ``index`` replaced by ``edit(values)``.

    The header's ``tree_sizes`` (byte lengths LightGBM parses the trees by, aborting the
    process when they are wrong) is dropped, so that LightGBM can load the edited text (it
    then reads the trees one by one).
    """
    text = re.sub(r"^tree_sizes=.*\n", "", text, flags=re.M)
    head, sep, rest = text.partition(f"Tree={index}\n")
    line = re.search(rf"^{key}=(.*)$", rest, flags=re.M)
    assert line is not None
    values = line[1].split()
    new_line = f"{key}={' '.join(str(v) for v in edit(values))}"
    return head + sep + rest[: line.start()] + new_line + rest[line.end() :]


def test_malformed_texts_keep_lightgbm() -> None:
    """Check that a text whose trees are not trees gives no compiled walk (LightGBM then
    serves or refuses it), never a crash or an endless parse."""
    text = _train(rounds=3).model_to_string()
    assert compiled_forest(text) is not None

    def set_first(value: Any) -> Any:
        return lambda values: [value, *values[1:]]

    cat_tree = next(
        i
        for i, part in enumerate(text.split("Tree=")[1:])
        if re.search(r"^num_cat=[1-9]", part, flags=re.M)
    )
    broken = {
        "leaf index out of range": _edit_tree(text, 0, "left_child", set_first(-1000)),
        "child index out of range": _edit_tree(text, 0, "right_child", set_first(1000)),
        "a cycle": _edit_tree(text, 0, "left_child", set_first(0)),
        "negative feature": _edit_tree(text, 0, "split_feature", set_first(-2)),
        "too few leaf values": _edit_tree(text, 0, "leaf_value", lambda v: v[:-1]),
        "missing key": text.replace("decision_type=", "decision_typo=", 1),
        "categorical split inf": _edit_tree(
            text,
            cat_tree,
            "threshold",
            lambda v: [
                "inf" if int(d) & 1 else t
                for t, d in zip(v, _tree_line(text, cat_tree, "decision_type"), strict=True)
            ],
        ),
        "bitset boundaries beyond the words": _edit_tree(
            text, cat_tree, "cat_boundaries", lambda v: [*v[:-1], 2**31 - 1]
        ),
    }
    for why, bad in broken.items():
        with pytest.raises(ValueError, match=r"tree \d+:"):
            parse_lightgbm_trees(bad)
        assert compiled_forest(bad) is None, why


def test_values_near_zero_read_as_zero() -> None:
    """Check LightGBM's zero band: thresholds inside +-1e-35 (possible in a model file),
    and values there, which LightGBM's dense-row reader turns into 0.0."""
    booster = _train(rounds=30)
    text = booster.model_to_string()
    tiny = [0.0, -0.0, 5e-36, -5e-36, 1e-36, -1e-36, 9e-36, -9e-36]
    for index in range(30):  # every split on column 1, N(0, 1), moved into the band
        cols = _tree_line(text, index, "split_feature")
        text = _edit_tree(
            text,
            index,
            "threshold",
            lambda v, cols=cols, index=index: [
                repr(tiny[(index + k) % len(tiny)]) if c == "1" else t
                for k, (t, c) in enumerate(zip(v, cols, strict=True))
            ],
        )
    edited = lgb.Booster(model_str=text)
    rng = np.random.default_rng(8)
    x, _ = _data(9, 400)
    band = [0.0, -0.0, 1e-36, -1e-36, 4e-36, -4e-36, 7e-36, -7e-36, 1e-35, -1e-35, 2e-35, -2e-35]
    x[:, 1] = rng.choice(band, size=x.shape[0])
    forest = compiled_forest(text)
    assert forest is not None
    raw = edited.predict(x, raw_score=True, num_threads=1)
    assert [forest.raw_score(x[i : i + 1]) for i in range(x.shape[0])] == raw.tolist()
    # The band matters on these rows: some value and some threshold compare otherwise than
    # 0.0 does (7e-36 > 5e-36 >= 0.0), and LightGBM routes such rows as it routes 0.0.
    assert 7e-36 in band
    assert 5e-36 in tiny
    zeroed = x.copy()
    zeroed[np.abs(zeroed[:, 1]) <= 1.0000000180025095e-35, 1] = 0.0
    np.testing.assert_array_equal(edited.predict(zeroed, raw_score=True, num_threads=1), raw)
