"""Writes MLeap bundles (JSON format) from Python values, as a directory or a zip, for the runtime's tests.

Typed values are written the way MLeap's own writer does: scalar defaults (0, 0.0, false, "") become
``{}``, an empty list ``{"type": "list"}``, and NaN/±Infinity become ``null``.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]


# -- typed values --------------------------------------------------------------------------------------


def _num(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x


def double(x: float) -> Json:
    return {"double": _num(float(x))} if x != 0.0 or math.isnan(x) else {}


def long(x: int) -> Json:
    return {"long": x} if x else {}


def integer(x: int) -> Json:
    return {"int": x} if x else {}


def string(s: str) -> Json:
    return {"string": s} if s else {}


def boolean(b: bool) -> Json:
    return {"boolean": True} if b else {}


def _list(kind: str, xs: Sequence[Any]) -> Json:
    return {"type": "list", kind: list(xs)} if xs else {"type": "list"}


def double_list(xs: Sequence[float]) -> Json:
    return _list("double", [_num(float(x)) for x in xs])


def string_list(xs: Sequence[str]) -> Json:
    return _list("string", xs)


def long_list(xs: Sequence[int]) -> Json:
    return _list("long", xs)


def int_list(xs: Sequence[int]) -> Json:
    return _list("int", xs)


def tensor(xs: Sequence[float]) -> Json:
    return {
        "type": "tensor",
        "double": [_num(float(x)) for x in xs],
        "shape": {"dimensions": [{"size": len(xs), "name": ""}]},
    }


def scalar_shape() -> Json:
    return {"base": "scalar", "isNullable": True}


def vector_shape(size: int) -> Json:
    return {"base": "tensor", "isNullable": True, "tensorShape": {"dimensions": [{"size": size, "name": ""}]}}


def shapes(*items: Json) -> Json:
    return _list("data_shape", items)


# -- trees (nested, then written pre-order one node per line) -------------------------------------------


def leaf(value: float) -> Json:
    return {"type": "leaf", "values": [_num(value)]}


def continuous(feature: int, threshold: float, left: Json, right: Json) -> Json:
    return {
        "type": "internal",
        "split": {"type": "continuous", "featureIndex": feature, "threshold": threshold},
        "_children": (left, right),
    }


def categorical(
    feature: int,
    categories: Sequence[float],
    is_left: bool,
    left: Json,
    right: Json,
    num_categories: int = 10,
) -> Json:
    split = {
        "numCategories": num_categories,
        "isLeft": is_left,
        "featureIndex": feature,
        "categories": list(categories),
        "type": "categorical",
    }
    return {"type": "internal", "split": split, "_children": (left, right)}


def tree_lines(root: Json) -> list[Json]:
    lines = []
    stack = [root]
    while stack:
        node = stack.pop()
        lines.append({k: v for k, v in node.items() if k != "_children"})
        if "_children" in node:
            left, right = node["_children"]
            stack.extend([right, left])
    return lines


# -- stages --------------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    op: str
    attributes: Json = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # port -> column
    outputs: dict[str, str] = field(default_factory=dict)
    children: list[Stage] = field(default_factory=list)  # a pipeline's stages
    tree: Json | None = None  # a decision tree's root (nested form)
    trees: list[Json] = field(default_factory=list)  # an ensemble's tree roots
    tree_op: str = "decision_tree_regression"


def pipeline(name: str, *children: Stage) -> Stage:
    return Stage(name, "pipeline", children=list(children))


def _files(stage: Stage, folder: str, out: dict[str, bytes]) -> None:
    attributes = dict(stage.attributes)
    if stage.op == "pipeline":
        attributes.setdefault("nodes", string_list([c.name for c in stage.children]))
        for child in stage.children:
            _files(child, f"{folder}/{child.name}.node", out)
    if stage.trees:
        attributes.setdefault("trees", string_list([f"tree{i}" for i in range(len(stage.trees))]))
        for i, root in enumerate(stage.trees):
            sub = f"{folder}/tree{i}"
            out[f"{sub}/model.json"] = _json(
                {"op": stage.tree_op, "attributes": {"num_features": attributes.get("num_features", {})}}
            )
            out[f"{sub}/tree.json"] = _tree(root)
    if stage.tree is not None:
        out[f"{folder}/tree.json"] = _tree(stage.tree)
    node = {
        "name": stage.name,
        "shape": {
            "inputs": [{"name": c, "port": p} for p, c in stage.inputs.items()],
            "outputs": [{"name": c, "port": p} for p, c in stage.outputs.items()],
        },
    }
    out[f"{folder}/node.json"] = _json(node)
    out[f"{folder}/model.json"] = _json({"op": stage.op, "attributes": attributes})


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


def _tree(root: Json) -> bytes:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in tree_lines(root)).encode()


def bundle_files(root: Stage, *, fmt: str = "json", version: str = "0.25.2") -> dict[str, bytes]:
    """Every file of the bundle, by path inside it."""
    files: dict[str, bytes] = {
        "bundle.json": _json(
            {
                "uid": "6a1e4e2c-0000-4000-8000-000000000001",
                "name": root.name,
                "format": fmt,
                "version": version,
                "timestamp": "2025-01-01T00:00:00.000",
            }
        )
    }
    _files(root, "root", files)
    return files


def write_files(dest: Path, files: dict[str, bytes], *, as_zip: bool = False) -> Path:
    if as_zip:
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        return dest
    for name, data in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def write_bundle(dest: Path, root: Stage, *, as_zip: bool = False, **kwargs: Any) -> Path:
    """Write ``root`` as a bundle directory at ``dest`` (or a zip file at ``dest``)."""
    return write_files(dest, bundle_files(root, **kwargs), as_zip=as_zip)


# -- common stages -------------------------------------------------------------------------------------


def string_indexer(
    name: str,
    column: str,
    output: str,
    labels: Sequence[str],
    handle_invalid: str = "error",
    *,
    old_form: bool = False,
) -> Stage:
    """Single-column ports ``input``/``output``, as Spark's ``setInputCol`` writes them."""
    if old_form:
        attributes = {"labels": string_list(labels), "handle_invalid": string(handle_invalid)}
    else:
        attributes = {
            "labels_length": integer(1),
            "labels_array_0": string_list(labels),
            "handle_invalid": string(handle_invalid),
        }
    return Stage(name, "string_indexer", attributes, {"input": column}, {"output": output})


def assembler(
    name: str, columns: Sequence[str], output: str, vector_sizes: dict[str, int] | None = None
) -> Stage:
    sizes = vector_sizes or {}
    input_shapes = [vector_shape(sizes[c]) if c in sizes else scalar_shape() for c in columns]
    return Stage(
        name,
        "vector_assembler",
        {"input_shapes": shapes(*input_shapes)},
        {f"input{i}": c for i, c in enumerate(columns)},
        {"output": output},
    )
