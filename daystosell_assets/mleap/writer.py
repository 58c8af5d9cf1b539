"""Writes a fitted Spark ``PipelineModel`` as an MLeap bundle (JSON format), the way MLeap's own
Spark serialiser lays it out: ``bundle.json``, ``root/`` with ``node.json`` and ``model.json``, one
``<stage uid>.node/`` folder per stage, one ``treeN/`` folder per ensemble tree with its nodes in
pre-order in ``tree.json``.

Everything is read through pyspark's Python API, so a Spark Connect client writes the same bundle as a
classic session: a tree model's nodes, which Python cannot see, are read back from Spark ML's own saved
format (see ``saved_trees``).

Each supported Spark stage has one converter below, registered by class; a stage without one is
refused before anything is written, naming the stage.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import (
    DecisionTreeClassificationModel,
    GBTClassificationModel,
    LogisticRegressionModel,
    RandomForestClassificationModel,
)
from pyspark.ml.feature import (
    Bucketizer,
    Interaction,
    MaxAbsScalerModel,
    MinMaxScalerModel,
    OneHotEncoderModel,
    StandardScalerModel,
    StringIndexerModel,
    VectorAssembler,
)
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.regression import (
    DecisionTreeRegressionModel,
    GBTRegressionModel,
    GeneralizedLinearRegressionModel,
    LinearRegressionModel,
    RandomForestRegressionModel,
)
from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from daystosell_assets.ml.imputer import ImputerModel
from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.ml.math_unary import MathUnary
from daystosell_assets.ml.string_map import StringMap
from daystosell_assets.mleap import attributes as attr
from daystosell_assets.mleap.saved_trees import CategoricalSplit, SavedTree, saved_trees

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
    tree_attributes: dict[str, Any] = field(default_factory=dict)  # extra attributes of each tree


@dataclass(frozen=True)
class WrittenBundle:
    path: Path
    uid: str
    name: str
    timestamp: str
    ops: list[str]


@dataclass(frozen=True)
class _Context:
    """What converters need besides the stage: the transformed schema, and where Spark may save a tree
    model so that its nodes can be read back (see ``write_bundle``'s ``scratch``)."""

    schema: StructType
    scratch: Path | None = None

    def trees(self, stage: Transformer) -> list[SavedTree]:
        return saved_trees(stage, self.scratch)


Converter = Callable[[Any, _Context], BundleNode]
_CONVERTERS: dict[type, Converter] = {}


def _converts(*classes: type) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for cls in classes:
            _CONVERTERS[cls] = fn
        return fn
    return register


def write_bundle(model: PipelineModel, sample: DataFrame, dest: Path, *, name: str,
                 meta: dict[str, str] | None = None, scratch: Path | None = None) -> WrittenBundle:
    """Writes ``model`` as a zip bundle at ``dest`` (a ``.zip`` path).

    ``sample`` is a few rows of the model's input: like MLeap's serialiser, the writer reads the
    transformed schema to learn vector sizes for the VectorAssembler's input shapes.

    Tree models are saved by Spark into a temporary folder under ``scratch`` and read back from there:
    the system's temporary folder by default, which serves a local session and a Spark Connect server on
    this machine. With a remote cluster, give a folder that Spark's driver and executors can write and this
    process can read at the same path (a shared mount).
    """
    # Only the schema is needed: Spark analyses the plan without running it, on Connect too.
    schema = model.transform(sample.limit(1)).schema
    root = _convert(model, _Context(schema=schema, scratch=scratch))
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


def _convert(stage: Transformer, ctx: _Context) -> BundleNode:
    for cls in type(stage).__mro__:
        if cls in _CONVERTERS:
            return _CONVERTERS[cls](stage, ctx)
    known = ", ".join(sorted(c.__name__ for c in _CONVERTERS))
    raise UnsupportedStageError(
        f"stage {stage.uid} ({type(stage).__name__}) has no MLeap converter; supported: {known}")


def _not_infinite(stage: Transformer, name: str, value: float) -> float:
    """MLeap's JSON format writes NaN and ±Infinity alike as null, which reads back as NaN: an
    infinite attribute would silently become NaN, so it is refused."""
    if math.isinf(value):
        raise UnsupportedStageError(f"stage {stage.uid}: {name} is {value}, which MLeap's JSON bundle format "
                                    "cannot hold (it would read back as NaN)")
    return value


def _ports(stage: Transformer, single: str, multi: str, port: str) -> list[tuple[str, str]]:
    if stage.isSet(stage.getParam(multi)):
        return [(col, f"{port}{i}") for i, col in enumerate(stage.getOrDefault(multi))]
    return [(stage.getOrDefault(single), port)]


@_converts(PipelineModel)
def _pipeline(stage: PipelineModel, ctx: _Context) -> BundleNode:
    children = [_convert(s, ctx) for s in stage.stages]
    return BundleNode(name=stage.uid, op="pipeline", children=children,
                      attributes={"nodes": attr.string_list([c.name for c in children])})


@_converts(StringIndexerModel)
def _string_indexer(stage: StringIndexerModel, ctx: _Context) -> BundleNode:
    labels = stage.labelsArray
    attributes = {"labels_length": attr.integer(len(labels)),
                  "handle_invalid": attr.string(stage.getHandleInvalid())}
    for i, column_labels in enumerate(labels):
        attributes[f"labels_array_{i}"] = attr.string_list(column_labels)
    return BundleNode(name=stage.uid, op="string_indexer", attributes=attributes,
                      inputs=_ports(stage, "inputCol", "inputCols", "input"),
                      outputs=_ports(stage, "outputCol", "outputCols", "output"))


@_converts(OneHotEncoderModel)
def _one_hot_encoder(stage: OneHotEncoderModel, ctx: _Context) -> BundleNode:
    return BundleNode(name=stage.uid, op="one_hot_encoder",
                      attributes={"category_sizes": attr.int_list(stage.categorySizes),
                                  "drop_last": attr.boolean(stage.getDropLast()),
                                  "handle_invalid": attr.string(stage.getHandleInvalid())},
                      inputs=_ports(stage, "inputCol", "inputCols", "input"),
                      outputs=_ports(stage, "outputCol", "outputCols", "output"))


@_converts(VectorAssembler)
def _vector_assembler(stage: VectorAssembler, ctx: _Context) -> BundleNode:
    shapes = []
    for column in stage.getInputCols():
        f = ctx.schema[column]
        if isinstance(f.dataType, VectorUDT):
            shapes.append(attr.tensor_shape(_vector_size(ctx.schema, column), f.nullable))
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
def _math_binary(stage: MathBinary, ctx: _Context) -> BundleNode:
    inputs = [(stage.getOrDefault(p), port) for p, port in ((stage.inputA, "input_a"), (stage.inputB, "input_b"))
              if stage.isSet(p)]
    attributes: dict[str, Any] = {"operation": attr.string(stage.getOrDefault(stage.operation))}
    for param in (stage.da, stage.db):
        if stage.isSet(param):
            attributes[param.name] = attr.double(_not_infinite(stage, param.name, stage.getOrDefault(param)))
    return BundleNode(name=stage.uid, op="math_binary", attributes=attributes, inputs=inputs,
                      outputs=[(stage.getOutputCol(), "output")])


@_converts(LinearRegressionModel)
def _linear_regression(stage: LinearRegressionModel, ctx: _Context) -> BundleNode:
    return BundleNode(name=stage.uid, op="linear_regression",
                      attributes={"coefficients": attr.double_tensor(stage.coefficients.toArray().tolist()),
                                  "intercept": attr.double(stage.intercept)},
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


@_converts(DecisionTreeRegressionModel)
def _decision_tree(stage: DecisionTreeRegressionModel, ctx: _Context) -> BundleNode:
    return BundleNode(name=stage.uid, op="decision_tree_regression",
                      attributes={"num_features": attr.long(stage.numFeatures)},
                      trees={"": _tree_lines(_single_tree(stage, ctx))},
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


@_converts(GBTRegressionModel, RandomForestRegressionModel)
def _tree_ensemble(stage: GBTRegressionModel | RandomForestRegressionModel, ctx: _Context) -> BundleNode:
    op = "gbt_regression" if isinstance(stage, GBTRegressionModel) else "random_forest_regression"
    trees = {f"tree{i}": _tree_lines(t) for i, t in enumerate(ctx.trees(stage))}
    return BundleNode(name=stage.uid, op=op,
                      attributes={"num_features": attr.long(stage.numFeatures),
                                  "tree_weights": attr.double_list(list(stage.treeWeights)),
                                  "trees": attr.string_list(list(trees))},
                      trees=trees, num_features=stage.numFeatures,
                      inputs=[(stage.getFeaturesCol(), "features")],
                      outputs=[(stage.getPredictionCol(), "prediction")])


def _io(stage: Transformer) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return [(stage.getOrDefault("inputCol"), "input")], [(stage.getOrDefault("outputCol"), "output")]


def _classifier_outputs(stage: Any) -> list[tuple[str, str]]:
    outputs = [(stage.getRawPredictionCol(), "raw_prediction"), (stage.getProbabilityCol(), "probability"),
               (stage.getPredictionCol(), "prediction")]
    return [(col, port) for col, port in outputs if col]


def _thresholds(stage: Any) -> dict[str, Any]:
    if stage.isSet(stage.thresholds):
        return {"thresholds": attr.double_list(list(stage.getThresholds()))}
    return {}


@_converts(Bucketizer)
def _bucketizer(stage: Bucketizer, ctx: _Context) -> BundleNode:
    if stage.isSet(stage.inputCols):
        raise UnsupportedStageError(
            f"stage {stage.uid}: MLeap's bucketizer op has one input column; use one Bucketizer a column")
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="bucketizer",
                      attributes={"splits": attr.double_list(list(stage.getSplits())),
                                  "handle_invalid": attr.string(stage.getHandleInvalid())},
                      inputs=inputs, outputs=outputs)


@_converts(StandardScalerModel)
def _standard_scaler(stage: StandardScalerModel, ctx: _Context) -> BundleNode:
    attributes: dict[str, Any] = {}
    if stage.getWithMean():
        attributes["mean"] = attr.double_tensor(stage.mean.toArray().tolist())
    if stage.getWithStd():
        attributes["std"] = attr.double_tensor(stage.std.toArray().tolist())
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="standard_scaler", attributes=attributes, inputs=inputs,
                      outputs=outputs)


@_converts(MinMaxScalerModel)
def _min_max_scaler(stage: MinMaxScalerModel, ctx: _Context) -> BundleNode:
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="min_max_scaler",
                      attributes={"min": attr.double_tensor(stage.originalMin.toArray().tolist()),
                                  "max": attr.double_tensor(stage.originalMax.toArray().tolist()),
                                  "minValue": attr.double(stage.getMin()),
                                  "maxValue": attr.double(stage.getMax())},
                      inputs=inputs, outputs=outputs)


@_converts(MaxAbsScalerModel)
def _max_abs_scaler(stage: MaxAbsScalerModel, ctx: _Context) -> BundleNode:
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="max_abs_scaler",
                      attributes={"maxAbs": attr.double_tensor(stage.maxAbs.toArray().tolist())},
                      inputs=inputs, outputs=outputs)


@_converts(GeneralizedLinearRegressionModel)
def _generalized_linear_regression(stage: GeneralizedLinearRegressionModel, ctx: _Context) -> BundleNode:
    attributes = {"coefficients": attr.double_tensor(stage.coefficients.toArray().tolist()),
                  "intercept": attr.double(stage.intercept),
                  "family": attr.string(stage.getFamily())}
    if stage.getFamily().lower() == "tweedie":
        # Beyond MLeap, which writes only family and link names and so cannot carry a tweedie model:
        # Spark takes a tweedie model's link from linkPower (1 - variancePower when unset) and
        # ignores ``link``, so its powers are written instead.
        variance_power = stage.getVariancePower()
        link_power = stage.getLinkPower() if stage.isSet(stage.linkPower) else 1.0 - variance_power
        attributes["variance_power"] = attr.double(variance_power)
        attributes["link_power"] = attr.double(link_power)
    elif stage.isSet(stage.link) or stage.hasDefault(stage.link):
        attributes["link"] = attr.string(stage.getLink())
    outputs = [(stage.getPredictionCol(), "prediction")]
    if stage.isSet(stage.linkPredictionCol) and stage.getLinkPredictionCol():
        outputs.insert(0, (stage.getLinkPredictionCol(), "link_prediction"))
    return BundleNode(name=stage.uid, op="generalized_linear_regression", attributes=attributes,
                      inputs=[(stage.getFeaturesCol(), "features")], outputs=outputs)


@_converts(LogisticRegressionModel)
def _logistic_regression(stage: LogisticRegressionModel, ctx: _Context) -> BundleNode:
    attributes: dict[str, Any] = {"num_classes": attr.long(stage.numClasses)}
    if stage.numClasses > 2:
        matrix = stage.coefficientMatrix
        # MLeap stores Spark's column-major values with the (rows, cols) shape, and reads them back
        # the same way.
        attributes["coefficient_matrix"] = attr.double_matrix(
            matrix.toArray().flatten(order="F").tolist(), matrix.numRows, matrix.numCols)
        attributes["intercept_vector"] = attr.double_tensor(stage.interceptVector.toArray().tolist())
        attributes.update(_thresholds(stage))
    else:
        attributes["coefficients"] = attr.double_tensor(stage.coefficients.toArray().tolist())
        attributes["intercept"] = attr.double(stage.intercept)
        attributes["threshold"] = attr.double(stage.getThreshold())
    return BundleNode(name=stage.uid, op="logistic_regression", attributes=attributes,
                      inputs=[(stage.getFeaturesCol(), "features")], outputs=_classifier_outputs(stage))


@_converts(DecisionTreeClassificationModel)
def _decision_tree_classifier(stage: DecisionTreeClassificationModel, ctx: _Context) -> BundleNode:
    return BundleNode(name=stage.uid, op="decision_tree_classifier",
                      attributes={"num_features": attr.long(stage.numFeatures),
                                  "num_classes": attr.long(stage.numClasses), **_thresholds(stage)},
                      trees={"": _tree_lines(_single_tree(stage, ctx), impurities=True)},
                      inputs=[(stage.getFeaturesCol(), "features")], outputs=_classifier_outputs(stage))


@_converts(RandomForestClassificationModel, GBTClassificationModel)
def _tree_classifier_ensemble(stage: RandomForestClassificationModel | GBTClassificationModel,
                              ctx: _Context) -> BundleNode:
    forest = isinstance(stage, RandomForestClassificationModel)
    num_classes = stage.numClasses if forest else 2
    trees = {f"tree{i}": _tree_lines(t, impurities=forest) for i, t in enumerate(ctx.trees(stage))}
    node = BundleNode(name=stage.uid, op="random_forest_classifier" if forest else "gbt_classifier",
                      attributes={"num_features": attr.long(stage.numFeatures),
                                  "num_classes": attr.long(num_classes),
                                  "tree_weights": attr.double_list(list(stage.treeWeights)),
                                  "trees": attr.string_list(list(trees)), **_thresholds(stage)},
                      trees=trees, num_features=stage.numFeatures,
                      inputs=[(stage.getFeaturesCol(), "features")], outputs=_classifier_outputs(stage))
    if forest:
        node.tree_op = "decision_tree_classifier"
        node.tree_attributes = {"num_classes": attr.long(num_classes)}
    return node


@_converts(MathUnary)
def _math_unary(stage: MathUnary, ctx: _Context) -> BundleNode:
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="math_unary",
                      attributes={"operation": attr.string(stage.getOrDefault(stage.operation))},
                      inputs=inputs, outputs=outputs)


@_converts(StringMap)
def _string_map(stage: StringMap, ctx: _Context) -> BundleNode:
    mapping = stage.mapping()
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="string_map",
                      attributes={"labels": attr.string_list(list(mapping)),
                                  "values": attr.double_list(list(mapping.values())),
                                  "handle_invalid": attr.string(stage.getOrDefault(stage.handleInvalid)),
                                  "default_value": attr.double(stage.getOrDefault(stage.defaultValue))},
                      inputs=inputs, outputs=outputs)


@_converts(ImputerModel)
def _imputer(stage: ImputerModel, ctx: _Context) -> BundleNode:
    # MLeap's spark-extension ImputerOp: the input's nullability comes from the transformed schema.
    inputs, outputs = _io(stage)
    return BundleNode(name=stage.uid, op="imputer",
                      attributes={"nullable_input": attr.boolean(ctx.schema[stage.getInputCol()].nullable),
                                  "surrogate_value": attr.double(
                                      _not_infinite(stage, "surrogateValue", stage.getSurrogateValue())),
                                  "missing_value": attr.double(
                                      _not_infinite(stage, "missingValue", stage.getMissingValue())),
                                  "strategy": attr.string(stage.getStrategy())},
                      inputs=inputs, outputs=outputs)


@_converts(Interaction)
def _interaction(stage: Interaction, ctx: _Context) -> BundleNode:
    columns = stage.getInputCols()
    shapes = []
    attributes: dict[str, Any] = {"num_inputs": attr.integer(len(columns))}
    for i, column in enumerate(columns):
        f = ctx.schema[column]
        ml_attr = f.metadata.get("ml_attr", {})
        if isinstance(f.dataType, VectorUDT):
            shapes.append(attr.tensor_shape(_vector_size(ctx.schema, column), f.nullable))
            if "attrs" not in ml_attr:
                raise UnsupportedStageError(
                    f"stage {stage.uid}: vector column {column!r} carries no ML attributes, which MLeap's "
                    "interaction needs")
            by_index = {a["idx"]: {**a, "type": kind} for kind, group in ml_attr["attrs"].items() for a in group}
            counts = [_num_features(by_index.get(j, {})) for j in range(_vector_size(ctx.schema, column))]
        else:
            shapes.append(attr.scalar_shape(f.nullable))
            counts = [_num_features(ml_attr)]
        attributes[f"num_features{i}"] = attr.int_list(counts)
    attributes["input_shapes"] = attr.data_shape_list(shapes)
    return BundleNode(name=stage.uid, op="interaction", attributes=attributes,
                      inputs=[(c, f"input{i}") for i, c in enumerate(columns)],
                      outputs=[(stage.getOutputCol(), "output")])


def _num_features(ml_attr: dict[str, Any]) -> int:
    """A feature's width in an interaction: a nominal one counts its values, any other is one."""
    if ml_attr.get("type") != "nominal":
        return 1
    if "vals" in ml_attr:
        return max(1, len(ml_attr["vals"]))
    if "num_vals" in ml_attr:
        return max(1, int(ml_attr["num_vals"]))
    raise UnsupportedStageError("nominal features must have their number of values defined")


def _single_tree(stage: Transformer, ctx: _Context) -> SavedTree:
    trees = ctx.trees(stage)
    if len(trees) != 1:
        raise UnsupportedStageError(f"stage {stage.uid}: a decision tree model saved {len(trees)} trees")
    return trees[0]


def _tree_lines(tree: SavedTree, impurities: bool = False) -> list[dict[str, Any]]:
    """A Spark tree as MLeap's tree.json lines: node, then left subtree, then right.

    With ``impurities`` (classification trees) a leaf's values are its impurity statistics (the
    class counts), as MLeap writes them; otherwise its prediction."""
    lines: list[dict[str, Any]] = []
    for node in tree.preorder():
        if node.split is None:
            values = node.impurity_stats if impurities else (node.prediction,)
            lines.append({"type": "leaf", "values": [float(v) for v in values]})
            continue
        split = node.split
        if isinstance(split, CategoricalSplit):
            left, right = list(split.left_categories), list(split.right_categories)
            # MLeap stores the shorter side and says which one it is.
            is_left = len(left) < len(right)
            body: dict[str, Any] = {"type": "categorical", "featureIndex": split.feature_index, "isLeft": is_left,
                                    "numCategories": split.num_categories, "categories": left if is_left else right}
        else:
            body = {"type": "continuous", "featureIndex": split.feature_index, "threshold": split.threshold}
        lines.append({"type": "internal", "split": body})
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
                "op": node.tree_op,
                "attributes": {"num_features": attr.long(node.num_features), **node.tree_attributes}})
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
