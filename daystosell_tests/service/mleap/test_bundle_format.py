"""Reading the bundle format: zip and directory, bundle.json, nested pipelines, tree files, bad JSON."""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from daystosell_service.mleap import BundleError, BundleInfo, load_bundle
from daystosell_service.mleap.bundle import parse_tree, read_bundle

from . import bundle_writer as bw
from .conftest import Build


def car_pipeline() -> bw.Stage:
    """make -> index; age = year - reg; [make_idx, age, mileage] -> linear regression."""
    features = bw.pipeline(
        "features",
        bw.string_indexer("make_indexer", "make", "make_idx", ["audi", "bmw", "citroen"], "keep"),
        bw.Stage("age", "math_binary", {"operation": bw.string("sub")}, {"input_a": "year", "input_b": "reg"},
                 {"output": "age"}),
    )
    return bw.pipeline(
        "days_to_sell",
        features,
        bw.assembler("assembler", ["make_idx", "age", "mileage"], "features"),
        bw.Stage("lr", "linear_regression", {"coefficients": bw.tensor([2.0, -1.5, 0.25]),
                                             "intercept": bw.double(10.0)},
                 {"features": "features"}, {"prediction": "prediction"}),
    )


ROW = {"make": "bmw", "year": 2024.0, "reg": 2020.0, "mileage": 100.0}
# make_idx 1, age 4, features [1, 4, 100]: 2*1 - 1.5*4 + 0.25*100 + 10 = 31
EXPECTED = {**ROW, "make_idx": 1.0, "age": 4.0, "features": [1.0, 4.0, 100.0], "prediction": 31.0}


def test_a_nested_pipeline_scores_and_describes_itself(build: Build) -> None:
    model = build(car_pipeline())
    assert model.transform([ROW]) == [EXPECTED]
    assert model.ops == ["pipeline", "pipeline", "string_indexer", "math_binary", "vector_assembler",
                         "linear_regression"]
    assert model.output_columns == ["make_idx", "age", "features", "prediction"]
    assert model.input_schema == {"make": "string", "year": "double", "reg": "double", "mileage": "double"}


def test_info_comes_from_bundle_json(build: Build) -> None:
    model = build(car_pipeline(), version="0.25.2")
    assert model.info == BundleInfo(uid="6a1e4e2c-0000-4000-8000-000000000001", name="days_to_sell",
                                    format="json", version="0.25.2", timestamp="2025-01-01T00:00:00.000")


def test_zip_and_directory_bundles_load_the_same(build: Build) -> None:
    from_dir = build(car_pipeline())
    from_zip = build(car_pipeline(), as_zip=True)
    assert from_zip.info == from_dir.info
    assert from_zip.ops == from_dir.ops
    assert from_zip.input_schema == from_dir.input_schema
    assert from_zip.transform([ROW]) == from_dir.transform([ROW]) == [EXPECTED]


def test_path_may_be_a_string(tmp_path: Path) -> None:
    bw.write_bundle(tmp_path / "b.zip", car_pipeline(), as_zip=True)
    assert load_bundle(str(tmp_path / "b.zip")).transform([ROW]) == [EXPECTED]


def test_a_single_stage_bundle_has_no_pipeline(build: Build) -> None:
    model = build(bw.Stage("double_it", "math_binary", {"operation": bw.string("mul"), "db": bw.double(2.0)},
                           {"input_a": "x"}, {"output": "y"}))
    assert model.ops == ["math_binary"]
    assert model.transform([{"x": 4.5}]) == [{"x": 4.5, "y": 9.0}]


def test_an_unknown_format_is_refused(build: Build) -> None:
    with pytest.raises(BundleError, match=r"bundle.json: unknown format 'yaml'"):
        build(car_pipeline(), fmt="yaml")


def test_a_missing_path_is_a_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such bundle file or directory"):
        load_bundle(tmp_path / "nothing.zip")


def test_a_file_that_is_not_a_zip_is_a_bundle_error(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_text("not a zip")
    with pytest.raises(BundleError, match="not a readable zip file"):
        load_bundle(tmp_path / "b.zip")


def test_a_zip_of_the_folder_instead_of_its_contents_gets_a_hint(tmp_path: Path) -> None:
    files = bw.bundle_files(car_pipeline())
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        for name, data in files.items():
            z.writestr(f"mybundle/{name}", data)
    with pytest.raises(BundleError, match=r"no bundle.json at the zip's top level \(found 'mybundle/bundle.json'"):
        load_bundle(tmp_path / "b.zip")


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_missing_stage_folder_names_the_file(tmp_path: Path, as_zip: bool) -> None:
    files = bw.bundle_files(car_pipeline())
    del files["root/features.node/age.node/node.json"]
    path = bw.write_files(tmp_path / ("b.zip" if as_zip else "b"), files, as_zip=as_zip)
    with pytest.raises(BundleError, match=r"^root/features.node/age.node/node.json: missing from the bundle"):
        load_bundle(path)


@pytest.mark.parametrize(
    "path",
    ["bundle.json", "root/node.json", "root/model.json", "root/features.node/make_indexer.node/model.json"],
)
def test_malformed_json_names_the_file(tmp_path: Path, path: str) -> None:
    files = bw.bundle_files(car_pipeline())
    files[path] = b'{"op": "pipeline", "attributes": '
    with pytest.raises(BundleError, match=rf"^{path}: malformed JSON"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_json_that_is_not_an_object_names_the_file(tmp_path: Path) -> None:
    files = bw.bundle_files(car_pipeline())
    files["root/lr.node/model.json"] = b"[1, 2]"
    with pytest.raises(BundleError, match=r"^root/lr.node/model.json: expected a JSON object, found list"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_pathologically_nested_json_is_a_bundle_error(tmp_path: Path) -> None:
    files = bw.bundle_files(car_pipeline())
    files["root/lr.node/model.json"] = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BundleError, match=r"^root/lr.node/model.json: malformed JSON"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_a_socket_without_a_column_names_the_file(tmp_path: Path) -> None:
    files = bw.bundle_files(car_pipeline())
    node = json.loads(files["root/lr.node/node.json"])
    node["shape"]["inputs"][0]["name"] = ""
    files["root/lr.node/node.json"] = json.dumps(node).encode()
    with pytest.raises(BundleError, match=r"^root/lr.node/node.json: shape 'inputs': port 'features' names no "
                                          r"valid column"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_a_port_listed_twice_names_the_file(tmp_path: Path) -> None:
    files = bw.bundle_files(car_pipeline())
    node = json.loads(files["root/lr.node/node.json"])
    node["shape"]["inputs"].append({"name": "other", "port": "features"})
    files["root/lr.node/node.json"] = json.dumps(node).encode()
    with pytest.raises(BundleError, match=r"root/lr.node/node.json: shape 'inputs': port 'features' appears twice"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_read_bundle_returns_plain_nodes(tmp_path: Path) -> None:
    bundle = read_bundle(bw.write_bundle(tmp_path / "b", car_pipeline()))
    root = bundle.root
    assert (root.op, root.name, root.path) == ("pipeline", "days_to_sell", "root")
    features, _assembler, lr = root.children
    assert [c.name for c in features.children] == ["make_indexer", "age"]
    assert features.children[1].inputs == {"input_a": "year", "input_b": "reg"}
    assert lr.path == "root/lr.node"
    assert lr.attributes.to_plain() == {"coefficients": [2.0, -1.5, 0.25], "intercept": 10.0}


# -- tree.json -----------------------------------------------------------------------------------------


def lines(*nodes: Mapping[str, object]) -> bytes:
    return "".join(json.dumps(n) + "\n" for n in nodes).encode()


CONT: dict[str, object] = {"type": "internal", "split": {"type": "continuous", "featureIndex": 0, "threshold": 1.5}}
CAT: dict[str, object] = {"type": "internal", "split": {"type": "categorical", "featureIndex": 4, "isLeft": False,
                                     "numCategories": 10, "categories": [1.0, 2.0]}}


def leaf(v: float | None) -> dict[str, object]:
    return {"type": "leaf", "values": [v]}


def test_tree_lines_are_read_in_pre_order() -> None:
    # root(cont) -> left: cat -> (leaf 1, leaf 2); right: leaf 3
    tree = parse_tree(lines(CONT, CAT, leaf(1.0), leaf(2.0), leaf(3.0)), "t/tree.json", [100])
    root, cat, l1, l2, l3 = tree.nodes
    assert (root.left, root.right) == (1, 4)
    assert (cat.left, cat.right) == (2, 3)
    assert cat.split is not None and cat.split.categories == (1.0, 2.0) and cat.split.is_left is False
    assert root.split is not None and (root.split.feature, root.split.threshold) == (0, 1.5)
    assert [n.values for n in (l1, l2, l3)] == [(1.0,), (2.0,), (3.0,)]
    assert tree.depth == 2


def test_a_null_leaf_or_threshold_is_nan() -> None:
    tree = parse_tree(lines({"type": "internal", "split": {"type": "continuous", "featureIndex": 0,
                                                            "threshold": None}}, leaf(None), leaf(1.0)),
                      "t/tree.json", [100])
    assert tree.nodes[0].split is not None and math.isnan(tree.nodes[0].split.threshold)
    assert math.isnan(tree.nodes[1].values[0])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lines(CONT, leaf(1.0)), "truncated tree: 1 internal node"),
        (lines(leaf(1.0), leaf(2.0)), "line 2: data after the end of the tree"),
        (b"", "empty tree"),
        (lines({"type": "branch"}), "line 1: unknown node type 'branch'"),
        (lines({"type": "leaf", "values": []}), "line 1: a leaf needs a non-empty 'values' list"),
        (lines({"type": "internal", "split": {"type": "categorical", "featureIndex": 1}}),
         "line 1: categorical split needs a boolean 'isLeft'"),
        (lines({"type": "internal", "split": {"type": "continuous", "featureIndex": -1, "threshold": 0}}),
         "line 1: featureIndex must be an integer"),
        (lines({"type": "internal", "split": {"type": "oblique"}}), "featureIndex must be an integer"),
        (b"{not json}\n", "line 1: malformed JSON"),
    ],
)
def test_malformed_trees_name_the_file_and_line(content: bytes, problem: str) -> None:
    with pytest.raises(BundleError, match=rf"^t/tree.json.*{problem}"):
        parse_tree(content, "t/tree.json", [100])
