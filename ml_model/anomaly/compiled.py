"""An isolation forest rewritten as an XGBoost model: a safe format and a compiled predictor.

A fitted scikit-learn forest is a pickle to ship and costs ~10 µs a row to score with 200
trees (measured in ``docs/model.md``). Its trees are plain binary splits, so each becomes an
XGBoost tree whose leaf holds that leaf's share of the forest's mean path length: the leaf's
depth plus the expected depth of the unbuilt subtree below it, ``c(samples in the leaf)``,
divided by ``trees * c(max_samples)``. The booster's prediction (base score 0) is then the mean
path length normalised as the isolation forest normalises it, and the anomaly score is
``2 ** -prediction``: scikit-learn's ``-score_samples`` (tests compare the two). The booster
saves as UBJSON beside the fraud model's and loads with the library the stream already has.

Splits: scikit-learn sends a row left when ``x <= threshold`` (a float32 feature against a
float64 threshold), XGBoost when ``x < condition`` (both float32); the condition is the float32
just above the largest float32 not above the threshold, which sends every float32 the same way.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

_ROOT_PARENT = 2147483647  # XGBoost's "no parent"


def average_path_length(samples: np.ndarray) -> np.ndarray:
    """``c(n)``: the mean depth of an unsuccessful search in a binary search tree of ``n``
    keys, the depth a leaf of ``n`` unsplit samples stands for (0 for one sample, 1 for two)."""
    n = np.asarray(samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    many = n > 2
    out[many] = 2.0 * (np.log(n[many] - 1.0) + np.euler_gamma) - 2.0 * (n[many] - 1.0) / n[many]
    return out


def left_condition(threshold: np.ndarray) -> np.ndarray:
    """float32 conditions ``c`` with ``x < c`` exactly when ``x <= threshold`` for every
    float32 ``x``."""
    value = np.asarray(threshold, dtype=np.float64)
    below = value.astype(np.float32)
    over = below.astype(np.float64) > value
    below[over] = np.nextafter(below[over], np.float32(-np.inf))
    return np.nextafter(below, np.float32(np.inf))


def _breadth_first(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Node numbers in breadth-first order with each node's children side by side, as
    XGBoost's predictor requires (it finds the right child next to the left one);
    scikit-learn numbers depth first. ``order[new] = old``."""
    order = [0]
    for old in order:  # grows as it goes: a queue
        if left[old] >= 0:
            order += [int(left[old]), int(right[old])]
    return np.asarray(order, dtype=np.int64)


def _depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(left), dtype=np.int64)
    for node in range(len(left)):  # parents precede children in both numberings
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


def _tree_json(tree: Any, index: int, features: np.ndarray, scale: float) -> dict[str, Any]:
    """One scikit-learn tree (``estimator.tree_``) as an XGBoost JSON tree."""
    order = _breadth_first(tree.children_left, tree.children_right)
    renumber = np.empty(len(order), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    old_left = np.asarray(tree.children_left, dtype=np.int64)[order]
    old_right = np.asarray(tree.children_right, dtype=np.int64)[order]
    leaf = old_left < 0
    left = np.where(leaf, -1, renumber[np.maximum(old_left, 0)])
    right = np.where(leaf, -1, renumber[np.maximum(old_right, 0)])
    samples = np.asarray(tree.n_node_samples, dtype=np.float64)[order]
    depth = _depths(left, right)
    value = np.where(leaf, (depth + average_path_length(samples)) / scale, 0.0)
    parents = np.full(len(left), _ROOT_PARENT, dtype=np.int64)
    parents[left[~leaf]] = np.flatnonzero(~leaf)
    parents[right[~leaf]] = np.flatnonzero(~leaf)
    threshold = left_condition(np.asarray(tree.threshold)[order]).astype(np.float64)
    conditions = np.where(leaf, value, threshold)
    split = np.where(leaf, 0, features[np.maximum(np.asarray(tree.feature)[order], 0)])
    count = len(left)
    return {
        "base_weights": value.astype(np.float32).tolist(),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": [0] * count,
        "id": index,
        "left_children": left.tolist(),
        "loss_changes": [0.0] * count,
        "parents": parents.tolist(),
        "right_children": right.tolist(),
        "split_conditions": conditions.astype(np.float32).tolist(),
        "split_indices": split.astype(np.int64).tolist(),
        "split_type": [0] * count,
        "sum_hessian": samples.tolist(),
        "tree_param": {
            "num_deleted": "0",
            "num_feature": str(len(features)),
            "num_nodes": str(count),
            "size_leaf_vector": "1",
        },
    }


def _template(width: int) -> dict[str, Any]:
    """The JSON of a one-tree regression booster of ``width`` features and base score 0, as
    this XGBoost writes it: every field but the trees is taken from the library itself."""
    import xgboost as xgb

    rows = np.zeros((2, width), dtype=np.float32)
    rows[1, 0] = 1.0
    params = {"objective": "reg:squarederror", "base_score": 0.0, "max_depth": 1, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(rows, label=[0.0, 1.0]), num_boost_round=1)
    model: dict[str, Any] = json.loads(bytes(booster.save_raw(raw_format="json")))
    return model


def compile_forest(forest: Any, width: int) -> Any:
    """A fitted ``sklearn.ensemble.IsolationForest`` over ``width`` features as an
    ``xgboost.Booster`` predicting the normalised mean path length."""
    import xgboost as xgb

    model = _template(width)
    trees = len(forest.estimators_)
    scale = trees * float(average_path_length(np.array([forest.max_samples_]))[0])
    subset = forest._max_features != width  # otherwise every tree reads the full rows
    identity = np.arange(width)
    body = model["learner"]["gradient_booster"]["model"]
    body["trees"] = [
        _tree_json(
            estimator.tree_,
            k,
            np.asarray(forest.estimators_features_[k]) if subset else identity,
            scale,
        )
        for k, estimator in enumerate(forest.estimators_)
    ]
    body["tree_info"] = [0] * trees
    body["iteration_indptr"] = list(range(trees + 1))
    body["gbtree_model_param"]["num_trees"] = str(trees)
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(model).encode()))
    booster.set_param({"nthread": 1})
    return booster


def path_scores(booster: Any, rows: np.ndarray) -> np.ndarray:
    """Anomaly per row, ``2 ** -(normalised mean path length)``: in (0, 1), higher is more
    unusual. ``rows``: float32, no NaN."""
    length = np.asarray(booster.inplace_predict(rows), dtype=np.float64)
    return np.asarray(np.exp2(-length), dtype=np.float64)
