"""A bundle is untrusted input: paths must stay inside it and sizes are capped."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from daystosell_service.mleap import BundleError, load_bundle
from daystosell_service.mleap import bundle as bundle_module
from daystosell_service.mleap.ops import one_hot_encoder as ohe_module

from . import bundle_writer as bw


def small_pipeline() -> bw.Stage:
    return bw.pipeline("p", bw.Stage("twice", "math_binary", {"operation": bw.string("mul"),
                                                               "db": bw.double(2.0)},
                                     {"input_a": "x"}, {"output": "y"}))


def zip_with(tmp_path: Path, extra: dict[str, bytes]) -> Path:
    files = {**bw.bundle_files(small_pipeline()), **extra}
    return bw.write_files(tmp_path / "b.zip", files, as_zip=True)


def test_the_clean_zip_loads(tmp_path: Path) -> None:
    assert load_bundle(zip_with(tmp_path, {})).transform([{"x": 1.5}]) == [{"x": 1.5, "y": 3.0}]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.json", "'..' in path"),
        ("root/../../evil.json", "'..' in path"),
        ("/etc/evil.json", "absolute path"),
        ("C:/evil.json", "absolute path"),
        ("root\\evil.json", "backslash in path"),
    ],
)
def test_zip_entries_escaping_the_bundle_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    # Refused even though nothing references the entry: the zip as a whole is untrusted.
    with pytest.raises(BundleError, match=rf"unsafe zip entry .*: {reason}"):
        load_bundle(zip_with(tmp_path, {name: b"{}"}))


def test_symlink_entries_in_a_zip_are_refused(tmp_path: Path) -> None:
    path = zip_with(tmp_path, {})
    with zipfile.ZipFile(path, "a") as z:
        link = zipfile.ZipInfo("root/link.json")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    with pytest.raises(BundleError, match=r"zip entry 'root/link.json' is a symbolic link"):
        load_bundle(path)


def test_a_duplicated_zip_entry_is_refused(tmp_path: Path) -> None:
    path = zip_with(tmp_path, {})
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as z:
        z.writestr("root/model.json", b"{}")
    with pytest.raises(BundleError, match=r"zip entry 'root/model.json' appears twice"):
        load_bundle(path)


def test_a_directory_bundle_may_not_link_outside_itself(tmp_path: Path) -> None:
    bundle = bw.write_bundle(tmp_path / "b", small_pipeline())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "model.json").write_bytes((bundle / "root/twice.node/model.json").read_bytes())
    (bundle / "root/twice.node/model.json").unlink()
    os.symlink(outside / "model.json", bundle / "root/twice.node/model.json")
    with pytest.raises(BundleError, match=r"root/twice.node/model.json: resolves outside the bundle directory"):
        load_bundle(bundle)


@pytest.mark.parametrize("name", ["../../outside", "a/b", "..", ""])
def test_stage_names_cannot_leave_the_pipeline_folder(tmp_path: Path, name: str) -> None:
    files = bw.bundle_files(small_pipeline())
    files["root/model.json"] = b'{"op": "pipeline", "attributes": {"nodes": {"type": "list", "string": ["%s"]}}}' % (
        name.encode())
    with pytest.raises(BundleError, match=r"root/model.json: (unsafe|invalid) stage name"):
        load_bundle(bw.write_files(tmp_path / "b", files))


def test_tree_folder_names_cannot_leave_the_stage_folder(tmp_path: Path) -> None:
    gbt = bw.Stage("gbt", "gbt_regression", {"trees": bw.string_list(["../../x"]),
                                             "tree_weights": bw.double_list([1.0])},
                   {"features": "f"}, {"prediction": "p"})
    with pytest.raises(BundleError, match=r"root/model.json: unsafe tree folder name '../../x'"):
        load_bundle(bw.write_bundle(tmp_path / "b", gbt))


# -- caps ----------------------------------------------------------------------------------------------


def test_total_uncompressed_size_of_a_zip_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = zip_with(tmp_path, {"notes/padding.txt": b"x" * 5000})
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 4000)
    with pytest.raises(BundleError, match="uncompressed size exceeds the limit of 4000 bytes"):
        load_bundle(path)


def test_total_size_of_a_directory_bundle_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bw.write_bundle(tmp_path / "b", small_pipeline())
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", total - 1)
    with pytest.raises(BundleError, match=f"bundle exceeds the limit of {total - 1} bytes"):
        load_bundle(path)


@pytest.mark.parametrize("as_zip", [False, True])
def test_one_file_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_zip: bool) -> None:
    files = bw.bundle_files(small_pipeline())
    files["root/model.json"] = files["root/model.json"] + b" " * 1000
    path = bw.write_files(tmp_path / ("b.zip" if as_zip else "b"), files, as_zip=as_zip)
    monkeypatch.setattr(bundle_module, "MAX_FILE_BYTES", 999)
    with pytest.raises(BundleError, match=r"^root/model.json: \d+ bytes exceed the limit of 999"):
        load_bundle(path)


def test_zip_entry_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = zip_with(tmp_path, {f"notes/{i}.txt": b"" for i in range(20)})
    monkeypatch.setattr(bundle_module, "MAX_ZIP_ENTRIES", 10)
    with pytest.raises(BundleError, match="zip entries exceed the limit of 10"):
        load_bundle(path)


def test_stage_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = [bw.Stage(f"s{i}", "math_unary", {"operation": bw.string("abs")}, {"input": f"c{i}"},
                       {"output": f"c{i + 1}"}) for i in range(5)]
    path = bw.write_bundle(tmp_path / "b", bw.pipeline("p", *stages))
    monkeypatch.setattr(bundle_module, "MAX_STAGES", 5)  # the pipeline itself counts
    with pytest.raises(BundleError, match="more than 5 stages"):
        load_bundle(path)


def test_pipeline_nesting_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = small_pipeline()
    for i in range(4):
        stage = bw.pipeline(f"level{i}", stage)
    path = bw.write_bundle(tmp_path / "b", stage)
    monkeypatch.setattr(bundle_module, "MAX_PIPELINE_DEPTH", 3)
    with pytest.raises(BundleError, match="pipelines nested deeper than 3"):
        load_bundle(path)


def deep_tree(depth: int) -> dict[str, object]:
    node = bw.leaf(1.0)
    for _ in range(depth):
        node = bw.continuous(0, 0.5, node, bw.leaf(2.0))
    return node


def tree_stage(*trees: dict[str, object]) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", ["x"], "f"),
                       bw.Stage("rf", "random_forest_regression", {"num_features": bw.long(1),
                                                                   "tree_weights": bw.double_list([1.0] * len(trees))},
                                {"features": "f"}, {"prediction": "y"}, trees=list(trees)))


def test_tree_depth_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bw.write_bundle(tmp_path / "b", tree_stage(deep_tree(6)))
    monkeypatch.setattr(bundle_module, "MAX_TREE_DEPTH", 5)
    with pytest.raises(BundleError, match=r"root/rf.node/tree0/tree.json: deeper than 5 levels"):
        load_bundle(path)


def test_a_tree_far_deeper_than_the_recursion_limit_still_loads(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_module, "MAX_TREE_DEPTH", 5000)
    model = load_bundle(bw.write_bundle(tmp_path / "b", tree_stage(deep_tree(3000))))
    # Every split is x <= 0.5 -> go left, so x=0 walks all 3000 levels to the bottom leaf.
    assert model.transform([{"x": 0.0}], select=["y"]) == [{"x": 0.0, "y": 1.0}]
    assert model.transform([{"x": 1.0}], select=["y"]) == [{"x": 1.0, "y": 2.0}]


def test_tree_nodes_are_capped_per_tree_and_in_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bw.write_bundle(tmp_path / "b", tree_stage(deep_tree(3), deep_tree(3)))  # 7 nodes each
    monkeypatch.setattr(bundle_module, "MAX_TREE_NODES", 6)
    with pytest.raises(BundleError, match=r"tree0/tree.json: more than 6 nodes"):
        load_bundle(path)
    monkeypatch.setattr(bundle_module, "MAX_TREE_NODES", 100)
    monkeypatch.setattr(bundle_module, "MAX_TOTAL_TREE_NODES", 10)
    with pytest.raises(BundleError, match=r"tree1/tree.json: the bundle's trees exceed 10 nodes in total"):
        load_bundle(path)


def test_tree_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bw.write_bundle(tmp_path / "b", tree_stage(*[bw.leaf(1.0)] * 4))
    monkeypatch.setattr(bundle_module, "MAX_TREES", 3)
    with pytest.raises(BundleError, match="4 trees exceed the limit of 3"):
        load_bundle(path)


def test_a_one_hot_vector_cannot_be_made_huge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ohe = bw.Stage("ohe", "one_hot_encoder", {"category_sizes": bw.int_list([2_000_000_000]),
                                              "drop_last": bw.boolean(True), "handle_invalid": bw.string("error")},
                   {"input": "i"}, {"output": "v"})
    monkeypatch.setattr(ohe_module, "MAX_VECTOR_SIZE", 1000)
    with pytest.raises(BundleError, match=r"root.*'ohe'.*vector length of 1999999999, outside \[0, 1000\]"):
        load_bundle(bw.write_bundle(tmp_path / "b", ohe))
