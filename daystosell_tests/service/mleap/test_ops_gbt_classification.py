"""GBTClassification: margin = dot(tree predictions, weights), raw [-m, m], p0 = 1 / (1 + exp(2m))."""

from __future__ import annotations

import math

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build
from .tree_classifiers import ALL_PORTS, assembled


def gbt(outputs: dict[str, str] | None = None, num_classes: int = 2, **extra: bw.Json) -> bw.Stage:
    trees = [bw.continuous(0, 0.0, bw.leaf(-1.0), bw.leaf(1.0)),
             bw.continuous(1, 0.0, bw.leaf(0.5), bw.leaf(-0.25))]
    attributes = {"num_features": bw.long(2), "num_classes": bw.long(num_classes),
                  "tree_weights": bw.double_list([1.0, 0.1]), **extra}
    return assembled(bw.Stage("gbt", "gbt_classifier", attributes, {"features": "f"}, outputs or ALL_PORTS,
                              trees=trees))


def test_outputs(build: Build) -> None:
    rows = build(gbt()).transform([{"x0": 1.0, "x1": 0.0}, {"x0": -1.0, "x1": 1.0}])
    m = 1.0 + 0.5 * 0.1  # 1 * 1 + 0.5 * 0.1: the product is exact, one rounding
    p0 = 1.0 / (1.0 + math.exp(2.0 * m))
    assert (rows[0]["raw"], rows[0]["prob"], rows[0]["y"]) == ([-m, m], [p0, 1.0 - p0], 1.0)
    m = -1.0 + -0.25 * 0.1
    p0 = 1.0 / (1.0 + math.exp(2.0 * m))
    assert (rows[1]["raw"], rows[1]["prob"], rows[1]["y"]) == ([-m, m], [p0, 1.0 - p0], 0.0)


@pytest.mark.parametrize("outputs", [{"prediction": "y"}, {"prediction": "y", "raw_prediction": "raw"}, ALL_PORTS])
def test_thresholds(build: Build, outputs: dict[str, str]) -> None:
    # m = 1.05: p = [0.109, 0.891]; / [0.1, 0.95] = [1.09, 0.938] -> class 0 (class 1 without thresholds)
    row = {"x0": 1.0, "x1": 0.0}
    assert build(gbt(outputs, thresholds=bw.double_list([0.1, 0.95]))).transform([row])[0]["y"] == 0.0
    assert build(gbt(outputs)).transform([row])[0]["y"] == 1.0


def test_bad_bundles(build: Build) -> None:
    with pytest.raises(BundleError, match=r"gbt\.node/model\.json: attribute 'num_classes'.*binary"):
        build(gbt(num_classes=3))
    with pytest.raises(BundleError, match=r"gbt\.node/model\.json: attribute 'lossType'.*'squared'"):
        build(gbt(lossType=bw.string("squared")))
    with pytest.raises(BundleError, match=r"gbt\.node/model\.json: attribute 'tree_weights'.*missing"):
        stage = gbt()
        del stage.children[1].attributes["tree_weights"]
        build(stage)
