"""DecisionTreeClassification: raw = the leaf's class statistics, probability = them over their sum."""

from __future__ import annotations

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build
from .tree_classifiers import ALL_PORTS, assembled, stats


def dt(outputs: dict[str, str] | None = None, leaf: bw.Json | None = None, **extra: bw.Json) -> bw.Stage:
    attributes = {"num_features": bw.long(2), "num_classes": bw.long(3), **extra}
    tree = bw.continuous(0, 1.5, leaf or stats(3.0, 1.0, 0.0), stats(0.0, 2.0, 6.0))
    return assembled(bw.Stage("dt", "decision_tree_classifier", attributes, {"features": "f"},
                              outputs or ALL_PORTS, tree=tree))


def test_outputs(build: Build) -> None:
    rows = build(dt()).transform([{"x0": 1.0, "x1": 0.0}, {"x0": 2.0, "x1": 0.0}])
    assert [(r["raw"], r["prob"], r["y"]) for r in rows] == [
        ([3.0, 1.0, 0.0], [0.75, 0.25, 0.0], 0.0),
        ([0.0, 2.0, 6.0], [0.0, 0.25, 0.75], 2.0),
    ]


@pytest.mark.parametrize("outputs", [{"prediction": "y", "raw_prediction": "raw"},
                                     {"prediction": "y", "probability": "prob"}])
def test_thresholds_with_raw_or_probability(build: Build, outputs: dict[str, str]) -> None:
    # probability [0, 0.25, 0.75] / [1, 0.2, 1] = [0, 1.25, 0.75] -> class 1 (2 without thresholds)
    model = build(dt(outputs, thresholds=bw.double_list([1.0, 0.2, 1.0])))
    assert model.transform([{"x0": 2.0, "x1": 0.0}])[0]["y"] == 1.0
    assert build(dt(outputs)).transform([{"x0": 2.0, "x1": 0.0}])[0]["y"] == 2.0


def test_prediction_alone_ignores_thresholds(build: Build) -> None:
    # Spark's DecisionTreeClassificationModel.predict is the leaf's prediction: thresholds play no part.
    model = build(dt({"prediction": "y"}, thresholds=bw.double_list([1.0, 0.2, 1.0])))
    assert model.transform([{"x0": 2.0, "x1": 0.0}])[0]["y"] == 2.0


def test_probability_divides_by_the_sum(build: Build) -> None:
    row = build(dt(leaf=stats(1.0, 1.0, 1.0))).transform([{"x0": 0.0, "x1": 0.0}])[0]
    assert row["prob"] == [1.0 / 3.0] * 3
    assert row["y"] == 0.0  # ties: the first class


def test_bad_bundles(build: Build) -> None:
    with pytest.raises(BundleError, match=r"stage 'dt'.*leaf 0 has 2 class statistics for 3 classes"):
        build(dt(leaf=stats(1.0, 2.0)))
    with pytest.raises(BundleError, match=r"stage 'dt'.*leaf 0 has class statistics \[1.0, -1.0, 0.0\]"):
        build(dt(leaf=stats(1.0, -1.0, 0.0)))
    with pytest.raises(BundleError, match=r"dt\.node/model\.json: attribute 'thresholds'.*2 thresholds"):
        build(dt(thresholds=bw.double_list([0.5, 0.5])))
    with pytest.raises(BundleError, match=r"dt\.node/model\.json: attribute 'depth'.*unknown"):
        build(dt(depth=bw.long(1)))
    with pytest.raises(BundleError, match=r"dt\.node/model\.json: attribute 'num_classes'.*missing"):
        build(assembled(bw.Stage("dt", "decision_tree_classifier", {}, {"features": "f"}, ALL_PORTS,
                                 tree=stats(1.0, 1.0))))
