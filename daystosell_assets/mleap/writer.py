"""Writes a fitted Spark ``PipelineModel`` as an MLeap bundle (JSON format), the way MLeap's own
Spark serialiser lays it out: ``bundle.json``, ``root/`` with ``node.json`` and ``model.json``, one
``<stage uid>.node/`` folder per stage, one ``treeN/`` folder per ensemble tree with its nodes in
pre-order in ``tree.json``.

Each supported Spark stage has one converter below, registered by class; a stage without one is
refused before anything is written, naming the stage.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import OneHotEncoderModel, StringIndexerModel, VectorAssembler
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.regression import (
    DecisionTreeRegressionModel,
    GBTRegressionModel,
    LinearRegressionModel,
    RandomForestRegressionModel,
)
from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.mleap import attributes as attr

# The MLeap release whose bundle format this writer follows (its Spark serialiser writes the same
# attributes for every stage converted here).
MLEAP_VERSION = "0.25.3"


class UnsupportedStageError(ValueError):
    pass


@dataclass
class BundleNode:
    """One stage as MLeap describes it: its ports, its op and typed attributes, and any files
    (trees) or child stages (pipelines) stored in its folder."""

    name: str
    op: str
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (column, port)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[BundleNode] = field(default_factory=list)
    trees: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # folder -> tree.json lines
    tree_op: str = "decision_tree_regression"
    num_features: int = 0


@dataclass(frozen=True)
class WrittenBundle:
    path: Path
    uid: str
    name: str
    timestamp: str
    ops: list[str]


Converter = Callable[[Any, StructType], BundleNode]
_CONVERTERS: dict[type, Converter] = {}


def _converts(*classes: type) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for cls in classes:
            _CONVERTERS[cls] = fn
        return fn
    return register


def write_bundle(model: PipelineModel, sample: DataFrame, dest: Path, *, name: str,
                 meta: dict[str, str] | None = None) -> WrittenBundle:
    """Writes ``model`` as a zip bundle at ``dest`` (a ``.zip`` path).

    ``sample`` is a few rows of the model's input: like MLeap's serialiser, the writer reads the
    transformed schema to learn vector sizes for the VectorAssembler's input shapes.
    """
    schema = model.transform(sample.limit(1)).schema
    root = _convert(model, schema)
    info: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "name": name,
        "format": "json",
        "version": MLEAP_VERSION,
        "timestamp": datetime.now().isoformat(timespec="milliseconds"),
    }
    if meta:
        info["meta"] = {key: attr.string(value) for key, value in sorted(meta.items())}

    staging = dest.with_suffix(".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _write_json(staging / "bundle.json", info)
    _write_node(root, staging / "root")
    _zip(staging, dest)
    shutil.rmtree(staging)
    return WrittenBundle(path=dest, uid=info["uid"], name=name, timestamp=info["timestamp"],
                         ops=[node.op for node in _walk(root)])


def _walk(node: BundleNode) -> Iterator[BundleNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _convert(stage: Transformer, schema: StructType) -> BundleNode:
    for cls in type(stage).__mro__:
        if cls in _CONVERTERS:
            return _CONVERTERS[cls](stage, schema)
    known = ", ".join(sorted(c.__name__ for c in _CONVERTERS))
    raise UnsupportedStageError(
        f"stage {stage.uid} ({type(stage).__name__}) has no MLeap converter; supported: {known}")


def _ports(stage: Transformer, single: str, multi: str, port: str) -> list[tuple[str, str]]:
    if stage.isSet(stage.getParam(multi)):
        return [(col, f"{port}{i}") for i, col in enumerate(stage.getOrDefault(multi))]
    return [(stage.getOrDefault(single), port)]


@_converts(PipelineModel)
def _pipeline(stage: PipelineModel, schema: StructType) -> BundleNode:
    children = [_convert(s, schema) for s in stage.stages]
    return BundleNode(name=stage.uid, op="pipeline", children=children,
                      attributes={"nodes": attr.string_list([c.name for c in children])})


@_converts(StringIndexerModel)
def _string_indexer(stage: StringIndexerModel, schema: StructType) -> BundleNode:
    labels = stage.labelsArray
    attributes = {"labels_length": attr.integer(len(labels)),
                  "handle_invalid": attr.string(stage.getHandleInvalid())}
    for i, column_labels in enumerate(labels):
        attributes[f"labels_array_{i}"] = attr.string_list(column_labels)
    return BundleNode(name=stage.uid, op="string_indexer", attributes=attributes,
                      inputs=_ports(stage, "inputCol", "inputCols", "input"),
                      outputs=_ports(stage, "outputCol", "outputCols", "output"))


@_converts(OneHotEncoderModel)
def _one_hot_encoder(stage: OneHotEncoderModel, schema: StructType) -> BundleNode:
    return BundleNode(name=stage.uid, op="one_hot_encoder",
                      attributes={"category_sizes": attr.int_list(stage.categorySizes),
                                  "drop_last": attr.boolean(stage.getDropLast()),
                                  "handle_invalid": attr.string(stage.getHandleInvalid())},
                      inputs=_ports(stage, "inputCol", "inputCols", "input"),
                      outputs=_ports(stage, "outputCol", "outputCols", "output"))


@_converts(VectorAssembler)
def _vector_assembler(stage: VectorAssembler, schema: StructType) -> BundleNode:
    shapes = []
    for column in stage.getInputCols():
        f = schema[column]
        if isinstance(f.dataType, VectorUDT):
            shapes.append(attr.tensor_shape(_vector_size(schema, column), f.nullable))
        else:
            shapes.append(attr.scalar_shape(f.nullable))
    return BundleNode(name=stage.uid, op="vector_assembler",
                      attributes={"input_shapes": attr.data_shape_list(shapes)},
                      inputs=[(c, f"input{i}") for i, c in enumerate(stage.getInputCols())],
                      outputs=[(stage.getOutputCol(), "output")])


def _vector_size(schema: StructType, column: str) -> int:
    ml_attr = schema[column].metadata.get("ml_attr", {})
    if "num_attrs" in ml_attr:
        return int(ml_attr["num_attrs"])
    if "attrs" in ml_attr:
        return sum(len(group) for group in ml_attr["attrs"].values())
    raise UnsupportedStageError(f"column {column!r} carries no vector size in its ML metadata")


@_converts(MathBinary)
def _math_binary(stage: MathBinary, schema: StructType) -> BundleNode:
    inputs = [(stage.getOrDefault(p), port) for p, port in ((stage.inputA, "input_a"), (stage.inputB, "input_b"))
              if stage.isSet(p)]
    attributes: dict[str, Any] = {"operation": attr.string(stage.getOrDefault(stage.operation))}
    for param in (stage.da, stage.db):
        if stage.isSet(param):
            attributes[param.name] = attr.double(stage.getOrDefault(param))
    return BundleNode(name=stage.uid, op="math_binary", attributes=attributes, inputs=inputs,
                      outputs=[(stage.getOutputCol(), "output")])


@_converts(LinearRegressionModel)
def _linear_regression(stage: LinearRegressionModel, schema: StructType) -> BundleNode:
    return BundleNode(name=stage.uid, op="linear_regression",
                      attributes={"coefficients": attr.double_tensor(stage.coefficients.toArray().tolist()),
                                  "intercept": attr.double(stage.intercept)},
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


@_converts(DecisionTreeRegressionModel)
def _decision_tree(stage: DecisionTreeRegressionModel, schema: StructType) -> BundleNode:
    return BundleNode(name=stage.uid, op="decision_tree_regression",
                      attributes={"num_features": attr.long(stage.numFeatures)},
                      trees={"": _tree_lines(_java(stage).rootNode())},
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


@_converts(GBTRegressionModel, RandomForestRegressionModel)
def _tree_ensemble(stage: GBTRegressionModel | RandomForestRegressionModel, schema: StructType) -> BundleNode:
    op = "gbt_regression" if isinstance(stage, GBTRegressionModel) else "random_forest_regression"
    java_trees = _java(stage).trees()
    trees = {f"tree{i}": _tree_lines(t.rootNode()) for i, t in enumerate(java_trees)}
    return BundleNode(name=stage.uid, op=op,
                      attributes={"num_features": attr.long(stage.numFeatures),
                                  "tree_weights": attr.double_list(list(stage.treeWeights)),
                                  "trees": attr.string_list(list(trees))},
                      trees=trees, num_features=stage.numFeatures,
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


def _java(stage: Transformer) -> Any:
    """The JVM object behind a Spark ML model (trees are only reachable there)."""
    java = getattr(stage, "_java_obj", None)
    if java is None:
        raise UnsupportedStageError(f"stage {stage.uid} has no JVM model to read trees from")
    return java


def _tree_lines(java_node: Any) -> list[dict[str, Any]]:
    """A Spark tree (through py4j) as MLeap's tree.json lines: node, then left subtree, then right."""
    lines: list[dict[str, Any]] = []
    stack = [java_node]
    while stack:
        node = stack.pop()
        if node.getClass().getSimpleName() != "InternalNode":
            lines.append({"type": "leaf", "values": [node.prediction()]})
            continue
        split = node.split()
        if split.getClass().getSimpleName() == "ContinuousSplit":
            body: dict[str, Any] = {"type": "continuous", "featureIndex": split.featureIndex(),
                                    "threshold": split.threshold()}
        else:
            left, right = list(split.leftCategories()), list(split.rightCategories())
            # MLeap stores the shorter side and says which one it is.
            is_left = len(left) < len(right)
            body = {"type": "categorical", "featureIndex": split.featureIndex(), "isLeft": is_left,
                    "numCategories": split.numCategories(), "categories": left if is_left else right}
        lines.append({"type": "internal", "split": body})
        stack.append(node.rightChild())
        stack.append(node.leftChild())
    return lines


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def _write_node(node: BundleNode, folder: Path) -> None:
    folder.mkdir(parents=True)
    shape = {"inputs": [{"name": c, "port": p} for c, p in node.inputs],
             "outputs": [{"name": c, "port": p} for c, p in node.outputs]}
    _write_json(folder / "node.json", {"name": node.name, "shape": shape})
    _write_json(folder / "model.json", {"op": node.op, "attributes": node.attributes})
    for tree_folder, lines in node.trees.items():
        target = folder / tree_folder
        if tree_folder:
            target.mkdir()
            _write_json(target / "model.json", {
                "op": node.tree_op, "attributes": {"num_features": attr.long(node.num_features)}})
        with (target / "tree.json").open("w") as out:
            for line in lines:
                out.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
    for child in node.children:
        _write_node(child, folder / f"{child.name}.node")


def _zip(folder: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
