"""RandomForestClassification: raw = sum over trees of each leaf's statistics over their total."""

from __future__ import annotations

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build
from .tree_classifiers import ALL_PORTS, assembled, stats


def rf(outputs: dict[str, str] | None = None, weights: list[float] | None = None, **extra: bw.Json) -> bw.Stage:
    trees = [bw.continuous(0, 1.5, stats(1.0, 2.0), stats(3.0, 3.0)),
             bw.continuous(1, 0.5, stats(0.0, 4.0), stats(0.0, 0.0))]  # an empty leaf adds nothing
    attributes = {"num_features": bw.long(2), "num_classes": bw.long(2),
                  "tree_weights": bw.double_list(weights or [1.0, 1.0]), **extra}
    return assembled(bw.Stage("rf", "random_forest_classifier", attributes, {"features": "f"},
                              outputs or ALL_PORTS, trees=trees, tree_op="decision_tree_classifier"))


def test_votes_and_probability(build: Build) -> None:
    rows = build(rf()).transform([{"x0": 1.0, "x1": 0.0}, {"x0": 2.0, "x1": 1.0}])
    votes = [1.0 / 3.0 + 0.0, 2.0 / 3.0 + 1.0]
    assert rows[0]["raw"] == votes
    total = votes[0] + votes[1]
    assert rows[0]["prob"] == [votes[0] / total, votes[1] / total]
    assert rows[0]["y"] == 1.0
    assert (rows[1]["raw"], rows[1]["prob"], rows[1]["y"]) == ([0.5, 0.5], [0.5, 0.5], 0.0)


def test_weights_are_ignored(build: Build) -> None:
    row = build(rf(weights=[5.0, 0.5])).transform([{"x0": 2.0, "x1": 0.0}])[0]
    assert row["raw"] == [0.5, 1.5]


@pytest.mark.parametrize("outputs", [{"prediction": "y"}, ALL_PORTS])
def test_thresholds(build: Build, outputs: dict[str, str]) -> None:
    # probability [0.25, 0.75] / [0.2, 1.0] = [1.25, 0.75] -> class 0
    model = build(rf(outputs, thresholds=bw.double_list([0.2, 1.0])))
    assert model.transform([{"x0": 2.0, "x1": 0.0}])[0]["y"] == 0.0
    assert build(rf(outputs)).transform([{"x0": 2.0, "x1": 0.0}])[0]["y"] == 1.0


def test_bad_bundles(build: Build) -> None:
    with pytest.raises(BundleError, match=r"rf\.node/model\.json: attribute 'tree_weights'.*1 weights for 2"):
        build(rf(weights=[1.0]))
    stage = rf()
    stage.children[1].tree_op = "decision_tree_regression"
    with pytest.raises(BundleError, match=r"stage 'rf'.*expected op 'decision_tree_classifier'"):
        build(stage)
