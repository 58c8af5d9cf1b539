"""The bundle writer lays a fitted Spark pipeline out exactly as MLeap's format describes it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import SQLTransformer
from pyspark.ml.regression import GBTRegressionModel, RandomForestRegressionModel

from daystosell_assets.mleap.writer import UnsupportedStageError, write_bundle
from daystosell_tests.conftest import GraphRun

pytestmark = pytest.mark.spark


def _read(zf: zipfile.ZipFile, name: str) -> dict:
    return json.loads(zf.read(name))


def test_bundle_holds_every_stage_with_its_ports_and_trees(graph_run: GraphRun) -> None:
    from pyspark.ml import PipelineModel

    model = PipelineModel.load(str(graph_run.lake_root / "models" / "fitted_model"))
    with zipfile.ZipFile(graph_run.bundle_path) as zf:
        info = _read(zf, "bundle.json")
        assert info["format"] == "json" and info["name"] == "daystosell"
        assert info["meta"]["model_version"]["string"] == graph_run.metadata["model_version"]
        root = _read(zf, "root/model.json")
        assert root["op"] == "pipeline"
        assert root["attributes"]["nodes"]["string"] == [s.uid for s in model.stages]

        regressor = model.stages[-1]
        folder = f"root/{regressor.uid}.node"
        node = _read(zf, f"{folder}/node.json")
        assert node["shape"] == {"inputs": [{"name": "features", "port": "features"}],
                                 "outputs": [{"name": "prediction", "port": "prediction"}]}
        attrs = _read(zf, f"{folder}/model.json")["attributes"]
        # The regressor is whichever candidate won; every kind of tree model is checked in test_saved_trees.
        trees = list(regressor.trees) if isinstance(regressor, GBTRegressionModel | RandomForestRegressionModel) else []
        if trees:
            assert attrs["tree_weights"]["double"] == list(regressor.treeWeights)
            assert attrs["num_features"]["long"] == regressor.numFeatures
        for i, tree in enumerate(trees):
            lines = zf.read(f"{folder}/tree{i}/tree.json").decode().splitlines()
            # Pre-order, one node a line: every node of Spark's tree, leaves one more than splits.
            assert len(lines) == tree.numNodes
            kinds = [json.loads(line)["type"] for line in lines]
            assert kinds.count("leaf") == kinds.count("internal") + 1

        indexer = model.stages[0]
        attrs = _read(zf, f"root/{indexer.uid}.node/model.json")["attributes"]
        assert attrs["labels_array_0"]["string"] == indexer.labelsArray[0]
        assert attrs["handle_invalid"] == {"string": "keep"}


def test_a_stage_without_a_converter_is_refused_by_name(graph_run: GraphRun, tmp_path: Path) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    df = spark.createDataFrame([(1.0,), (5.0,)], "x double")
    # MLeap has no SQLTransformer op: the writer must say so before writing anything.
    sql = SQLTransformer(statement="SELECT x * 2 AS y FROM __THIS__")
    model = Pipeline(stages=[sql]).fit(df)
    with pytest.raises(UnsupportedStageError, match=sql.uid):
        write_bundle(model, df, tmp_path / "b.zip", name="t")
    assert not (tmp_path / "b.zip").exists()
