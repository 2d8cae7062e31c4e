"""The path explanation of LightGBM models: exact sums, an independent reference, top features."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fraudwatch.errors import ConfigError
from fraudwatch.models import LightGBMModel, LogisticModel, XGBoostModel
from fraudwatch.models._paths import LeafTables

FAST: dict[str, Any] = {"n_estimators": 60, "num_leaves": 15, "min_child_samples": 20}

_FITTED: dict[str, LightGBMModel] = {}


def fitted(toy: Any) -> LightGBMModel:
    """A LightGBM model of the toy problem (numeric splits with NaN, a categorical feature)."""
    if "toy" not in _FITTED:
        _FITTED["toy"] = LightGBMModel(num_threads=1, **FAST).fit(
            toy.x, toy.y, feature_names=toy.names, categorical=toy.categorical
        )
    return _FITTED["toy"]


def _nodes(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = [node]
    if "leaf_value" not in node:
        out += _nodes(node["left_child"]) + _nodes(node["right_child"])
    return out


def _mean_output(node: Mapping[str, Any]) -> tuple[float, float]:
    """(training rows, their mean output) below ``node``, recomputed from the leaves."""
    if "leaf_value" in node:
        return float(node["leaf_count"]), float(node["leaf_value"])
    wl, vl = _mean_output(node["left_child"])
    wr, vr = _mean_output(node["right_child"])
    return wl + wr, (wl * vl + wr * vr) / (wl + wr)


def _goes_left(node: Mapping[str, Any], value: float) -> bool:
    """LightGBM's routing of one value at one split, written out from its documentation."""
    if node["decision_type"] == "==":  # categorical: the listed codes go left
        if math.isnan(value) or value < 0:
            return False
        return int(value) in {int(c) for c in str(node["threshold"]).split("||")}
    missing = node["missing_type"]
    if math.isnan(value) and missing != "NaN":
        value = 0.0
    if (missing == "NaN" and math.isnan(value)) or (missing == "Zero" and abs(value) <= 1e-35):
        return bool(node["default_left"])
    return value <= float(node["threshold"])


def reference_path(
    dump: Mapping[str, Any], row: np.ndarray, offset: float
) -> tuple[np.ndarray, list[int]]:
    """Slow reference: walk every dumped tree for one row, crediting each value change."""
    out = np.zeros(row.size + 1)
    leaves = []
    for info in dump["tree_info"]:
        node = info["tree_structure"]
        out[-1] += _mean_output(node)[1]
        while "leaf_value" not in node:
            feature = int(node["split_feature"])
            side = "left_child" if _goes_left(node, float(row[feature])) else "right_child"
            child = node[side]
            out[feature] += _mean_output(child)[1] - _mean_output(node)[1]
            node = child
        leaves.append(int(node.get("leaf_index", 0)))
    out[-1] += offset
    return out, leaves


def test_reference_agrees_on_missing_and_categorical_rows(toy: Any) -> None:
    """Check that path contributions equal a pure-Python walk of the dumped trees to 1e-9."""
    model = fitted(toy)
    dump = model.booster_.dump_model()
    splits = [n for t in dump["tree_info"] for n in _nodes(t["tree_structure"])]
    assert any(n.get("decision_type") == "==" for n in splits), "no categorical split to test"
    assert any(n.get("missing_type") == "NaN" for n in splits), "no split with NaN routing"
    rows = toy.x_val[:40].copy()
    rows[:10, 2] = np.nan  # numeric missing: the default direction
    rows[10:15, 4] = np.nan  # categorical missing
    rows[15:20, 4] = 999.0  # category never seen in training
    got = model.contributions(rows)
    leaves = model.booster_.predict(rows, pred_leaf=True)
    for i, row in enumerate(rows):
        expected, walked = reference_path(dump, row, model.margin_offset_)
        assert walked == leaves[i].tolist(), f"the reference routed row {i} differently"
        np.testing.assert_allclose(got[i], expected, atol=1e-9, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(5)),
        elements=st.one_of(st.floats(-1e4, 1e4), st.just(np.nan)),
    )
)
def test_path_sums_to_margin_for_any_input(toy: Any, data: np.ndarray) -> None:
    """Check that path contributions sum to the log-odds to 1e-9 for arbitrary inputs."""
    x = data.copy()
    x[:, 4] = np.where(np.isnan(x[:, 4]), np.nan, np.abs(np.round(x[:, 4])) % 12)
    model = fitted(toy)
    c = model.contributions(x)
    assert c.shape == (x.shape[0], 6)
    np.testing.assert_allclose(c.sum(axis=1), model.decision_function(x), atol=1e-9, rtol=0)


def test_bias_is_the_average_output_like_treeshap(toy: Any) -> None:
    """Check that the path bias equals TreeSHAP's expected value (same average output)."""
    model = fitted(toy)
    path = model.contributions(toy.x_val[:20], method="path")
    shap = model.contributions(toy.x_val[:20], method="shap")
    np.testing.assert_allclose(path[:, -1], shap[:, -1], atol=1e-9, rtol=0)
    np.testing.assert_allclose(path.sum(axis=1), shap.sum(axis=1), atol=1e-9, rtol=0)


def test_one_row_equals_its_row_in_a_batch(toy: Any) -> None:
    """Check that explaining a row alone gives bit-identical contributions to a batch."""
    model = fitted(toy)
    batch = model.contributions(toy.x_val[:30])
    one = np.vstack([model.contributions(toy.x_val[i : i + 1]) for i in range(30)])
    np.testing.assert_array_equal(one, batch)


def test_one_row_adds_trees_in_order_like_a_batch() -> None:
    """Check that one row sums its table rows in tree order from zero, bit-identical to a batch."""
    rng = np.random.default_rng(3)
    n_trees = 300
    table = rng.normal(size=(n_trees, 4)) * 10.0 ** rng.integers(-8, 8, size=(n_trees, 4))
    table[:, 0] = 1.0
    table[0, 0] = 1e16  # in tree order each +1 rounds away; any regrouping of the ones shows
    tables = LeafTables(offsets=np.arange(n_trees, dtype=np.int64), table=table)
    leaves = np.zeros((3, n_trees), dtype=np.int32)
    in_order = np.zeros(4)
    for t in range(n_trees):
        in_order = in_order + table[t]
    one = tables.contributions(leaves[:1])
    assert one.shape == (1, 4)
    assert one.tobytes() == in_order[None, :].tobytes()
    assert one.tobytes() == tables.contributions(leaves)[:1].tobytes()
    assert one[0, 0] == 1e16 != table[:, 0].sum()  # numpy's pairwise sum would differ


@pytest.mark.parametrize("n_rows", [1, 3])
def test_leaf_outside_the_tables_refused(n_rows: int) -> None:
    """Check that a leaf index beyond the tables is refused for one row and for a batch."""
    tables = LeafTables(offsets=np.array([0, 2], dtype=np.int64), table=np.ones((4, 3)))
    leaves = np.zeros((n_rows, 2), dtype=np.int32)
    leaves[-1, 1] = 2
    with pytest.raises(ValueError, match="leaf index outside the model's trees"):
        tables.contributions(leaves)
    leaves[-1, 1] = -3
    with pytest.raises(ValueError, match="leaf index outside the model's trees"):
        tables.contributions(leaves)


def test_large_batch_in_tree_blocks_matches_rows(toy: Any) -> None:
    """Check that a batch scored in blocks of trees equals rows scored alone, to 1e-12."""
    model = LightGBMModel(num_threads=1, n_estimators=80, num_leaves=15).fit(
        toy.x, toy.y, categorical=toy.categorical
    )
    x = np.vstack([toy.x_val] * 2)  # above the row count that switches to tree blocks
    batch = model.decision_function(x)
    alone = np.array([model.decision_function(x[i : i + 1])[0] for i in range(0, len(x), 37)])
    np.testing.assert_allclose(batch[::37], alone, atol=1e-12, rtol=0)
    np.testing.assert_allclose(model.contributions(x).sum(axis=1), batch, atol=1e-9, rtol=0)


def test_empty_batch_has_no_contributions(toy: Any) -> None:
    """Check that explaining zero rows returns an empty matrix of the right width."""
    assert fitted(toy).contributions(toy.x_val[:0]).shape == (0, 6)


def test_obvious_driver_is_the_top_feature() -> None:
    """Check that when one numeric and one categorical feature drive fraud, each tops its rows."""
    rng = np.random.default_rng(5)
    n = 6000
    x = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 6, n)])
    y = ((x[:, 0] > 1.8) | (x[:, 2] == 4)).astype(int)
    model = LightGBMModel(num_threads=1, **FAST).fit(x, y, categorical=[2])
    by_amount = np.array([[3.0, 0.0, 1.0], [2.5, -1.0, 0.0], [4.0, 1.0, 5.0]])
    by_category = np.array([[0.0, 0.0, 4.0], [-1.0, 1.0, 4.0]])
    c = model.contributions(np.vstack([by_amount, by_category]))[:, :-1]
    assert np.argmax(c, axis=1).tolist() == [0, 0, 0, 2, 2]


def test_single_leaf_trees_are_explained() -> None:
    """Check that a model whose trees never split explains rows by the bias alone."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (rng.random(200) < 0.2).astype(int)
    model = LightGBMModel(n_estimators=5, min_child_samples=500, num_threads=1).fit(x, y)
    c = model.contributions(x[:7])
    np.testing.assert_array_equal(c[:, :-1], 0.0)
    np.testing.assert_allclose(c.sum(axis=1), model.decision_function(x[:7]), atol=1e-12)


def test_tables_built_once_and_rebuilt_after_refit(toy: Any) -> None:
    """Check that the leaf tables are cached per model and rebuilt when fit changes the trees."""
    model = LightGBMModel(num_threads=1, **FAST)
    model.fit(toy.x, toy.y, categorical=toy.categorical)
    first = model.leaf_tables()
    assert model.leaf_tables() is first
    model.fit(toy.x[:2000], toy.y[:2000], categorical=toy.categorical)
    assert model.leaf_tables() is not first
    np.testing.assert_allclose(
        model.contributions(toy.x_val[:50]).sum(axis=1),
        model.decision_function(toy.x_val[:50]),
        atol=1e-9,
    )


def test_table_rows_sum_to_leaf_values(toy: Any) -> None:
    """Check that each leaf's table row sums to that leaf's value in the dump."""
    model = fitted(toy)
    tables = model.leaf_tables()
    dump = model.booster_.dump_model()
    for t, info in enumerate(dump["tree_info"]):
        for node in _nodes(info["tree_structure"]):
            if "leaf_value" in node:
                row = tables.table[tables.offsets[t] + int(node.get("leaf_index", 0))]
                assert row.sum() == pytest.approx(node["leaf_value"], abs=1e-12)


def test_max_depth_bounds_the_trees(toy: Any) -> None:
    """Check that max_depth limits every tree's depth and keeps the sums exact."""
    model = LightGBMModel(max_depth=3, num_threads=1, **FAST).fit(toy.x, toy.y)

    def depth(node: Mapping[str, Any]) -> int:
        if "leaf_value" in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    trees = model.booster_.dump_model()["tree_info"]
    assert max(depth(t["tree_structure"]) for t in trees) <= 3
    np.testing.assert_allclose(
        model.contributions(toy.x_val).sum(axis=1), model.decision_function(toy.x_val), atol=1e-9
    )


@pytest.mark.parametrize(
    "model",
    [LightGBMModel(**FAST), XGBoostModel(n_estimators=5), LogisticModel()],
    ids=["lightgbm", "xgboost", "logreg"],
)
def test_unknown_method_refused(toy: Any, model: Any) -> None:
    """Check that an unknown explanation method is refused with the allowed ones named."""
    model.fit(toy.x, toy.y, categorical=toy.categorical)
    with pytest.raises(ConfigError, match=r"one of 'path', 'shap'; got 'lime'"):
        model.contributions(toy.x_val[:3], method="lime")
